"""Dramatiq actors: the voting logger (dedup) and the voting record service (persistence).

``actors.logger`` and ``actors.recorder`` say how to declare each service's actors on a
broker (``actors.service``); ``actors.entry`` is the workers' entry point, the one module
that configures anything when imported.
"""
