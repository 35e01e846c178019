"""Runs Dramatiq's worker CLI for one actor role, shielded from process-group signals.

Platforms and Procfile runners (Heroku, honcho) stop a process by signalling its whole
process group. Dramatiq's forked worker processes then get SIGTERM twice, once from the
platform and once from Dramatiq's main process, and treat the second as "kill now",
dropping the graceful shutdown. So Dramatiq runs in a session of its own and this
launcher forwards one stop signal to it. If the launcher itself dies, the kernel sends
Dramatiq SIGTERM (``PR_SET_PDEATHSIG``) so no worker is left orphaned.

Dramatiq imports ``actors.entry`` (the one module that configures anything on import),
which declares the actors of the role this launcher names in its environment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from types import FrameType

from config import Settings
from election.domain.routes import route_for

#: The environment variable that tells ``actors.entry`` the role to declare.
ROLE_VARIABLE = "ELECTION_WORKER_ROLE"

PR_SET_PDEATHSIG = 1
#: How long Dramatiq may take to finish in-flight messages on shutdown.
SHUTDOWN_TIMEOUT_MS = 30_000


def dramatiq_command(settings: Settings, role: str, processes: int, threads: int) -> list[str]:
    """The Dramatiq CLI invocation for ``role`` (``logger`` or ``recorder``), to run with
    :func:`worker_environment`. Through ``actors.dramatiq_cli``, so that Dramatiq's main
    process logs like ours."""
    return [
        sys.executable,
        "-m",
        "actors.dramatiq_cli",
        "actors.entry:broker",
        "--queues",
        route_for(role).queue(settings.namespace),
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--worker-shutdown-timeout",
        str(SHUTDOWN_TIMEOUT_MS),
    ]


def dramatiq_environment(settings: Settings) -> dict[str, str]:
    """Environment settings for Dramatiq's worker (it reads some only from there)."""
    if settings.broker_kind != "redis":
        # RabbitMQ pushes to a waiting consumer; Dramatiq's default wake-up (1 s) costs
        # nothing in latency, while 20 ms woke every worker thread 50 times a second.
        return {}
    # Dramatiq's Redis consumer polls an idle queue with a backoff that grows up to this
    # many milliseconds (its default, 1000, adds up to a second per hop to a vote's answer).
    return {"dramatiq_worker_timeout": str(settings.worker_poll_ms)}


def worker_environment(settings: Settings, role: str) -> dict[str, str]:
    """The whole environment of the Dramatiq worker for ``role``."""
    route_for(role)  # an unknown role fails here, not in every worker process
    return {**os.environ, **dramatiq_environment(settings), ROLE_VARIABLE: role}


def _die_with_parent() -> None:
    libc_name = ctypes.util.find_library("c")
    if libc_name:  # Linux; elsewhere the child may outlive a killed launcher
        ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_worker(settings: Settings, role: str, processes: int, threads: int) -> int:
    """Run Dramatiq until it exits; forward the first SIGTERM/SIGINT to it once."""
    child = subprocess.Popen(
        dramatiq_command(settings, role, processes, threads),
        env=worker_environment(settings, role),
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    forwarded = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        if not forwarded:
            forwarded = True
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return child.wait()
