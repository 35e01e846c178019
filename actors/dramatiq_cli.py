"""Dramatiq's worker command line, logging through ``election.logs`` from its first line.

``python -m actors.dramatiq_cli`` takes ``python -m dramatiq``'s arguments. Dramatiq's CLI
calls ``logging.basicConfig`` (text lines in a format of its own) in its main process and
in each worker process it forks, which does nothing where the root logger has a handler
already. So this sets up our logging first: the main process's lines (booting up,
signals, a worker that exited) are the same JSON or console lines as every other
process's, and forked workers inherit that until ``LoggingSetup`` configures them again
after boot, under their own name. ``LOG_LEVEL`` and ``LOG_FORMAT`` decide; Dramatiq's
``--verbose`` and ``--skip-logging`` change nothing, and ``--log-file`` is refused.
"""

from __future__ import annotations

import sys

from dramatiq import cli

from config import load_settings
from election.logs import configure_from_settings

MODULE = "actors.dramatiq_cli"


def main(argv: list[str] | None = None) -> int:
    """Parse Dramatiq's arguments, set up our logging, then run Dramatiq's main process."""
    parser = cli.make_argument_parser()
    args = parser.parse_args(argv)
    if args.log_file:
        parser.error("--log-file: workers log to standard error (LOG_FORMAT, LOG_LEVEL)")
    queues = ",".join(sorted(args.queues or ())) or "all"
    configure_from_settings(load_settings(), process=f"worker-main[{queues}]")
    # On SIGHUP Dramatiq re-executes sys.argv (a module's path under -m): make it this module.
    sys.argv = [sys.executable, "-m", MODULE, *(sys.argv[1:] if argv is None else argv)]
    return int(cli.main(args))


if __name__ == "__main__":
    sys.exit(main())
