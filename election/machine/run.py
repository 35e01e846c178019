"""The run loop of ``election machine``: random votes on an open machine, one line each.

It is the machine as a person runs it: it draws voters and choices, sends one vote at a
time, prints each vote's UUID and outcome as it comes, and at the end (a count reached,
a stop requested, or the topic missing) closes the machine and prints a summary. The
command line (``election.cli.machine``) only reads the arguments and opens the machine.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import threading
from dataclasses import dataclass

from election.domain.ballot import ShownBallot, choice_label
from election.domain.outcomes import FORGED, Outcome, summarize
from election.machine.voting import TopicMissing, VotingMachine

#: What a run remembers of each vote: its outcome and latency (``None`` on time-out).
Result = tuple[Outcome, float | None]


@dataclass(frozen=True)
class VotePlan:
    """Which votes a run sends: ``votes`` of them (``None``: until stopped), voters drawn
    from 1..``voters`` (so repeats happen), choices from 0..``choices``-1, ``interval_s``
    apart, each waiting up to ``timeout_s`` for its answer; ``seed`` repeats a run.

    ``ballot`` is the declared ballot of an open election: then the choices drawn are the
    ballot's (``0..n-1``, whatever ``choices`` says), its title and names are printed
    first and each line names its choice. ``None``: an undeclared election (or no answer),
    voted on as before."""

    votes: int | None
    voters: int
    choices: int
    timeout_s: float
    interval_s: float
    seed: int | None = None
    ballot: ShownBallot | None = None

    def on_ballot(self, ballot: ShownBallot | None) -> VotePlan:
        """This plan for the ``ballot`` the machine got (``None``: no answer in time)."""
        if ballot is None or not ballot.declared:
            return self
        return dataclasses.replace(self, choices=len(ballot.choices), ballot=ballot)

    @property
    def names(self) -> tuple[str, ...]:
        """The choice names of the ballot; none for an undeclared election."""
        return () if self.ballot is None else self.ballot.choices


def run_machine(machine: VotingMachine, plan: VotePlan, stop: threading.Event) -> bool:
    """Send ``plan``'s votes on the open ``machine`` until done or ``stop`` is set, printing
    each; then close the machine and print the summary.

    Return ``False`` if a vote found the topic missing: that vote was not sent, which is
    said in one line on standard error (before the summary), not reported as a time-out.
    """
    results: list[Result] = []
    if plan.ballot is not None:
        print(plan.ballot.header(), flush=True)
    print(
        f"machine {machine.machine_id} voting in election {machine.election_id} (Ctrl-C to stop)",
        flush=True,
    )
    try:
        _send_votes(machine, plan, stop, results)
    except TopicMissing as exc:
        # Not a time-out: the vote was not sent. One line, then the summary below.
        print(f"election machine: {exc}", file=sys.stderr, flush=True)
        return False
    finally:
        machine.close()
        _print_summary(machine.machine_id, results)
    return True


def _send_votes(
    machine: VotingMachine, plan: VotePlan, stop: threading.Event, results: list[Result]
) -> None:
    """The loop: one vote at a time, ``plan.interval_s`` apart, appended to ``results``."""
    rng = random.Random(plan.seed)
    sent = 0
    while not stop.is_set() and (plan.votes is None or sent < plan.votes):
        if sent and plan.interval_s and stop.wait(plan.interval_s):
            break
        cast = machine.cast(
            rng.randint(1, plan.voters), rng.randrange(plan.choices), plan.timeout_s
        )
        sent += 1
        results.append((cast.outcome, cast.latency))
        label = choice_label(cast.choice, plan.names)
        # The receipt, when there is one, after the outcome: the voter keeps it to check
        # later that the ballot is in the record (``election proof``).
        receipt = "" if cast.outcome.receipt is None else f"  receipt {cast.outcome.receipt}"
        print(f"{cast.uuid}  choice {label}  {cast.outcome}{receipt}", flush=True)


def print_forged(uuid: str, why: str) -> None:
    """Show an answer whose signature does not hold as such, never as an outcome."""
    print(f"{uuid}  {FORGED} ({why})", flush=True)


def _print_summary(machine_id: str, results: list[Result]) -> None:
    summary = summarize(results)
    print(f"--- machine {machine_id}: {len(results)} votes", flush=True)
    for line in summary.lines():
        print(f"    {line}", flush=True)
