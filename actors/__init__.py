"""Dramatiq actors: the voting logger (dedup) and the voting record service (persistence).

Import ``actors.logger`` or ``actors.recorder``; each configures the broker first.
"""
