"""Start and stop Google's Pub/Sub emulator for local runs and tests.

The emulator's launcher is a Java program; it is started in a process group of its own so
that stopping the group stops Java too. It keeps everything in memory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from election.domain.errors import ElectionError

#: How long a cold emulator may take to accept connections.
START_TIMEOUT_S = 60.0


class EmulatorError(ElectionError):
    """The emulator cannot be found or did not start."""


def launcher() -> Path:
    """The ``cloud-pubsub-emulator`` launcher of the installed Cloud SDK."""
    override = os.environ.get("PUBSUB_EMULATOR_LAUNCHER")
    candidates = [Path(override)] if override else []
    gcloud = shutil.which("gcloud")
    if gcloud:
        try:
            root = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout.strip()
            candidates.append(Path(root) / "platform/pubsub-emulator/bin/cloud-pubsub-emulator")
        except (subprocess.SubprocessError, OSError):
            pass  # fall through to the usual install locations
    candidates += [
        Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"),
        Path("/usr/share/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"),
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise EmulatorError(
        "the Pub/Sub emulator is not installed (Debian package "
        "google-cloud-cli-pubsub-emulator); set PUBSUB_EMULATOR_LAUNCHER to its launcher"
    )


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Emulator:
    """One emulator process on ``host:port``; ``start()`` waits until it accepts calls."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8085, log_path: Path | None = None):
        self.host = host
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, the value for ``PUBSUB_EMULATOR_HOST``."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the emulator and wait until it listens."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(launcher()), f"--host={self.host}", f"--port={self.port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(f"the emulator exited with code {self.process.returncode}")
            if is_listening(self.host, self.port):
                return
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(f"the emulator did not listen on {self.address} in {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the emulator's whole process group (the launcher and Java)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass  # already gone
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        self.process = None
