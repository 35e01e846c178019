"""Shared settings of the tests' own Pub/Sub subscriptions."""

#: The ack deadline of a test subscription: an unacked message comes back after it.
ACK_DEADLINE_S = 10
