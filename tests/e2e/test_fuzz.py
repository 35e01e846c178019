"""Fuzzing the two service subscriptions with generated garbage, next to valid votes.

No process may crash, nothing may loop: every generated message is handled exactly once
(answered ``rejected: <reason>``, logged and dropped, or refused as forged; a message
too large for any service is refused by the bridge before it is enqueued), and the valid
votes in the same stream are recorded as usual.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bridge.router import attributes_bytes, oversized
from election.domain import protocol
from tests.support.processes import run_election
from tests.support.report import report
from tests.support.system import ElectionSystem

pytestmark = pytest.mark.e2e

FIELDS = ["machine_ID", "voter_ID", "voting", "election_ID", "UUID", "timestamp"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
ids = st.one_of(
    st.integers(min_value=-5, max_value=10**20),
    st.text(max_size=70),
    st.sampled_from(["fz-1", "fz-2", "fz-3"]),
    json_values,
)
bodies = st.one_of(
    # Objects with some of the fields, of any type, and extra ones.
    st.fixed_dictionaries(
        {},
        optional={name: ids for name in FIELDS} | {"extra": json_values},
    ).map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=300),  # not JSON, often not UTF-8
    json_values.map(lambda value: json.dumps(value).encode()),  # JSON, but not an object
    st.integers(min_value=5_000, max_value=200_000).map(  # huge
        lambda size: json.dumps({"machine_ID": "fz-9", "pad": "x" * size}).encode()
    ),
)
functions = st.sampled_from(
    [protocol.SUBMIT_VOTE] * 4 + [protocol.RECORD_VOTE] * 2 + ["result", "", "submit  vote"]
)
attribute_sets = st.one_of(
    st.fixed_dictionaries(
        {protocol.FUNCTION: functions},
        optional={
            protocol.MACHINE_ID: st.one_of(st.sampled_from(["fz-4", "fz-5"]), st.text(max_size=30)),
            "odd": st.text(max_size=50),
        },
    ),
    st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=3),
)
MESSAGES = 150


def test_generated_garbage_is_answered_or_dropped_once_and_valid_votes_are_unaffected(
    make_system: Any,
) -> None:
    system: ElectionSystem = make_system()
    system.start("bridge", "logger", "recorder")
    collector = system.collector("fz-ok")
    valid: list[str] = []
    sent = {protocol.SUBMIT_VOTE: 0, protocol.RECORD_VOTE: 0}
    refused = 0  # by the bridge, too large to forward
    batch: list[tuple[bytes, dict[str, str]]] = []
    rng = random.Random(0)

    @settings(
        max_examples=MESSAGES,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(message=st.tuples(bodies, attribute_sets))
    def publish(message: tuple[bytes, dict[str, str]]) -> None:
        nonlocal refused
        data, attributes = message
        try:
            system.publish_raw(data, attributes)
        except api_exceptions.InvalidArgument:
            return  # Pub/Sub itself refused it (an attribute it does not allow)
        batch.append(message)
        function = attributes.get(protocol.FUNCTION)
        if function in sent and oversized(len(data), attributes_bytes(attributes)):
            refused += 1
        elif function in sent:
            sent[function] += 1
        if len(batch) % 6 == 0:  # valid votes in the same stream
            voter = 10_000 + len(batch)
            valid.append(system.submit(f"fz-ok{rng.randint(1, 3)}", voter, "601", voter % 5))

    publish()
    collector.wait_for(valid, timeout=120)
    bridge = system.services["bridge"]
    bridge.wait_for_log(r"message\.oversized", times=refused, timeout=120)
    logger = system.services["logger"]
    recorder = system.services["recorder"]
    handled = r"vote\.(rejected|dropped|accepted|repeat)"
    logger.wait_for_log(handled, times=sent[protocol.SUBMIT_VOTE] + len(valid), timeout=120)
    # A generated message may by chance be a valid vote: it is then recorded like any other.
    accepted = logger.count(r"vote\.accepted")
    recorder.wait_for_log(
        r"record\.forged|vote\.(recorded|rejected)",
        times=sent[protocol.RECORD_VOTE] + accepted,
        timeout=120,
    )
    collector.close()
    report(
        "fuzz counts",
        f"generated {len(batch)}: submit vote {sent[protocol.SUBMIT_VOTE]}, "
        f"record vote {sent[protocol.RECORD_VOTE]}, too large {refused}, "
        f"other {len(batch) - sum(sent.values()) - refused}",
        f"logger: rejected {logger.count(r'vote.rejected')}, dropped "
        f"{logger.count(r'vote.dropped')}, accepted {accepted - len(valid)} (+{len(valid)} valid)",
        f"recorder: forged {recorder.count(r'record.forged')}, recorded "
        f"{recorder.count(r'vote.recorded')}; bridge filtered out "
        f"{system.services['bridge'].count(r'message.filtered_out')} (3 subscriptions)",
    )
    # Exactly once: nothing was retried, redelivered or handled twice.
    assert logger.count(handled) == sent[protocol.SUBMIT_VOTE] + len(valid)
    assert bridge.count(r"message\.oversized") == refused
    assert recorder.count(r"record\.forged") == sent[protocol.RECORD_VOTE]
    for service in system.services.values():
        assert service.alive, service.log()[-2000:]
        failures = r"Retrying message|Traceback|settle_failed|pull_failed"
        assert service.count(failures) == 0, service.log()[-3000:]
    assert all(
        answers == [(answers[0][0], protocol.RESULT_SUCCESSFUL)]
        for uuid, answers in collector.results.items()
        if uuid in valid
    )
    assert system.recorded("601", valid, range(10_000, 10_000 + len(valid) * 6 + 7)) == set(valid)
    assert "no dead letters" in run_election(["dead-letters"], system.env).stdout
    # Nothing but the valid votes was stored, in any election.
    with system.database.connection_context():
        (count,) = system.database.execute_sql(
            f'SELECT count(*) FROM "{system.name}".ballots'
        ).fetchone()
    assert count == accepted
