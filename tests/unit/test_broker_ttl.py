"""The dead-message TTL of RabbitMQ queues: ours by default, an operator's where set."""

from __future__ import annotations

from actors.broker import DEAD_MESSAGE_TTL_MS, rabbitmq_dead_message_ttl_ms


def test_the_dead_message_ttl_is_one_hour_unless_an_operator_set_dramatiqs_own() -> None:
    assert rabbitmq_dead_message_ttl_ms({}) == DEAD_MESSAGE_TTL_MS == 3_600_000
    assert rabbitmq_dead_message_ttl_ms({"dramatiq_dead_message_ttl": "60000"}) == 60_000


def test_a_malformed_ttl_setting_falls_back_to_ours() -> None:
    assert rabbitmq_dead_message_ttl_ms({"dramatiq_dead_message_ttl": "soon"}) == 3_600_000
