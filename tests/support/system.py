"""The whole election system, started for one test with names of its own.

Each :class:`ElectionSystem` has its own topic, subscriptions, Dramatiq queues, Redis key
prefix and PostgreSQL schema, so tests can run in any order and twice in a row.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
import uuid as uuidlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from config import Settings, load_settings
from election.domain import protocol
from election.domain.ed25519 import new_private_key
from election.domain.secrecy import VoterSecrets
from election.domain.votes import canonical_id
from election.local.cleanup import drop_namespace
from election.pubsub.client import Publisher, subscriber_client, subscription_path, topic_path
from election.pubsub.subscriber import FilteredSubscriber, PulledMessage, one_by_one
from election.storage.models import Ballot, BallotState, open_database
from election.storage.redis_client import connect_redis
from tests.support.processes import Service, election_command, run_election, wait_for

READY = {
    "bridge": r"bridge\.started",
    "logger": r"Worker process is ready for action",
    "recorder": r"Worker process is ready for action",
    "checkpointer": r"checkpointer\.started",
}


class ElectionSystem:
    """Provisioned resources plus the bridge and worker processes of one test."""

    def __init__(
        self,
        emulator_host: str,
        broker_url: str,
        log_dir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        name = f"t{uuidlib.uuid4().hex[:12]}"
        self.name = name
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "PUBSUB_EMULATOR_HOST": emulator_host,
            "GOOGLE_CLOUD_PROJECT": "election-test",
            "ELECTION_TOPIC": name,
            "ELECTION_NAMESPACE": name,
            "DATABASE_SCHEMA": name,
            "DRAMATIQ_BROKER_URL": broker_url,
            "LOG_LEVEL": "DEBUG",
            # The tests read the services' logs as text (key=value).
            "LOG_FORMAT": "console",
            "WORKER_THREADS": "4",
            "PYTHONUNBUFFERED": "1",
            "VOTER_KEY": secrets.token_hex(16),
            "RECORD_SIGNING_KEYS": f"k1={secrets.token_hex(16)}",
            "LOG_SIGNING_KEY": new_private_key(),
            "ACTOR_MAX_BACKOFF_MS": "1000",
            **(extra_env or {}),
        }
        self.settings: Settings = load_settings(self.env)
        self.secrets = VoterSecrets(self.settings.require_voter_key())
        self.services: dict[str, Service] = {}
        self.publisher = Publisher(self.settings)
        # The harness's own connections are named apart from the services' (which a fault
        # test may cut).
        self.database = open_database(
            dataclasses.replace(
                self.settings, database_url=_named(self.settings.database_url, "harness")
            ),
            max_connections=2,
        )
        self.redis = connect_redis(self.settings.redis_url)

    def provision(self) -> None:
        """Run ``election provision`` as a subprocess; it must succeed."""
        done = run_election(["provision"], self.env)
        assert done.returncode == 0, done.stderr

    def start(self, *roles: str) -> None:
        """Start the named processes and wait until each is ready."""
        for role in roles:
            args = [role] if role in ("bridge", "checkpointer") else ["worker", role]
            self.services[role] = Service(
                role, election_command(*args), self.env, self.log_dir
            ).start()
        for role in roles:
            self.services[role].wait_for_log(READY[role], timeout=90)

    def stop(self, *roles: str) -> dict[str, int | None]:
        """Stop the named processes (all when none named) with SIGTERM; exit codes."""
        names = roles or tuple(self.services)
        return {role: self.services[role].stop() for role in names if role in self.services}

    def close(self) -> None:
        """Stop everything and remove what this test created."""
        self.stop()
        self.publisher.close()
        self.database.close_all()
        self.redis.close()
        drop_namespace(self.settings)

    def machine(self, *args: str, timeout: float = 180.0) -> MachineRun:
        """Run ``election machine`` to completion."""
        done = run_election(["machine", *args], self.env, timeout=timeout)
        assert done.returncode == 0, f"machine failed ({done.returncode}):\n{done.stderr}"
        return MachineRun(done.stdout, done.stderr)

    def rows(self, election_id: str) -> list[StoredBallot]:
        """The recorded ballots of one election (tombstones left out)."""
        with self.database.connection_context():
            query = Ballot.select(Ballot.ref, Ballot.choice).where(
                (Ballot.election_id == election_id) & (Ballot.state == BallotState.RECORDED)
            )
            return [StoredBallot(bytes(b.ref), b.choice) for b in query]

    def ref(self, election_id: str, voter: int | str, uuid: str) -> bytes:
        """The row key of a ballot: rows hold no UUID, but the harness knows VOTER_KEY."""
        token = self.secrets.voter_token(election_id, canonical_id(voter))
        return self.secrets.ballot_ref(self.secrets.ballot_tag(election_id, token, uuid))

    def recorded(
        self, election_id: str, uuids: Iterable[str], voters: Iterable[int | str]
    ) -> set[str]:
        """Which of ``uuids`` are recorded ballots of ``election_id``, cast by any of
        ``voters`` (a row's key depends on its voter, which a machine's output omits)."""
        stored = {row.ref for row in self.rows(election_id)}
        candidates = list(voters)
        return {
            uuid
            for uuid in uuids
            if any(self.ref(election_id, voter, uuid) in stored for voter in candidates)
        }

    def publish_raw(self, data: bytes, attributes: dict[str, str]) -> str:
        """Publish arbitrary bytes with arbitrary attributes to the topic."""
        return self.publisher.calls.publish(topic_path(self.settings), [(data, attributes)], 30)[0]

    def submit(
        self,
        machine_id: str,
        voter_id: int | str,
        election_id: str,
        choice: int = 0,
        uuid: str | None = None,
    ) -> str:
        """Publish one ``submit vote`` as a reference machine would; returns its UUID."""
        uuid = uuid or str(uuidlib.uuid4())
        body = {
            "machine_ID": machine_id,
            "voter_ID": voter_id,
            "voting": choice,
            "election_ID": election_id,
            "UUID": uuid,
            "timestamp": 1_700_000_000_000,
        }
        self.publish_raw(json.dumps(body).encode(), {protocol.FUNCTION: protocol.SUBMIT_VOTE})
        return uuid

    def collector(self, machine_prefix: str) -> ResultCollector:
        """Collect the ``result`` messages for machines whose ID starts with the prefix."""
        return ResultCollector(self, machine_prefix)


@dataclass(frozen=True)
class StoredBallot:
    """A recorded row: its key and choice, all a row says."""

    ref: bytes
    choice: int


class MachineRun:
    """The output of one finished ``election machine``."""

    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.votes: list[tuple[str, int, str]] = []
        #: The receipt printed with each recorded vote, by UUID.
        self.receipts: dict[str, str] = {}
        for line in stdout.splitlines():
            parts = line.split("  ")
            if len(parts) in (3, 4) and parts[1].startswith("choice "):
                self.votes.append((parts[0], int(parts[1].split()[1]), parts[2]))
            if len(parts) == 4 and parts[3].startswith("receipt "):
                self.receipts[parts[0]] = parts[3].removeprefix("receipt ")

    def with_outcome(self, outcome: str) -> list[str]:
        """UUIDs of the votes that ended with ``outcome``."""
        return [uuid for uuid, _, said in self.votes if said == outcome]


class ResultCollector:
    """A test-side answer subscription, filtered with ``hasPrefix`` on the machine ID."""

    def __init__(self, system: ElectionSystem, machine_prefix: str) -> None:
        self.system = system
        self.client = subscriber_client(system.settings)
        self.path = subscription_path(
            system.settings, f"{system.name}-collect-{uuidlib.uuid4().hex[:8]}"
        )
        text = protocol.machine_prefix_filter(machine_prefix)
        self.client.create_subscription(
            request={"name": self.path, "topic": topic_path(system.settings), "filter": text},
            timeout=30,
        )
        self._lock = threading.Lock()
        self.results: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.subscriber = FilteredSubscriber(self.client, self.path, one_by_one(self._on_message))
        self.subscriber.start()

    def _on_message(self, message: PulledMessage) -> None:
        message.ack()
        body = json.loads(message.data)
        with self._lock:
            self.results[body["UUID"]].append(
                (message.attributes[protocol.MACHINE_ID], body["result"])
            )

    def wait_for(self, uuids: list[str], timeout: float = 60.0) -> dict[str, list[tuple[str, str]]]:
        """Wait until every UUID has an answer; a snapshot of all answers so far."""

        def done() -> bool:
            with self._lock:
                return all(self.results.get(u) for u in uuids)

        wait_for(done, timeout, f"answers to {len(uuids)} ballots")
        with self._lock:
            return {k: list(v) for k, v in self.results.items()}

    def close(self) -> None:
        """Stop and delete the subscription."""
        self.subscriber.stop(10)
        self.client.delete_subscription(subscription=self.path, timeout=30)
        self.client.close()


def give_up_on(system: ElectionSystem, election: str) -> None:
    """Make the record step fail for one election, as a broken database would."""
    with system.database.connection_context():
        system.database.execute_sql(
            f"""
            CREATE OR REPLACE FUNCTION "{system.name}".refuse() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'record step failing for election %%', NEW.election_id; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse BEFORE INSERT ON "{system.name}".ballots FOR EACH ROW
            WHEN (NEW.election_id = '{election}' AND NEW.state = 1)
            EXECUTE FUNCTION "{system.name}".refuse();
            """
        )


def heal(system: ElectionSystem) -> None:
    """Undo :func:`give_up_on`: the record step works again."""
    with system.database.connection_context():
        system.database.execute_sql(f'DROP TRIGGER refuse ON "{system.name}".ballots')


def _named(url: str, application_name: str) -> str:
    """``url`` with its connections named ``application_name`` (in pg_stat_activity)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "application_name"]
    query.append(("application_name", application_name))
    return urlunsplit(parts._replace(query=urlencode(query)))
