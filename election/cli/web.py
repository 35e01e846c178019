"""``election web``: the Procfile's ``web`` process (public pages and JSON, read-only).

It listens on ``$PORT``, as Heroku-like platforms require (8000 when unset), on every
interface by default. Its log is the project's one pipeline: uvicorn's access log is off
and the app writes its own line per request (``web.app.RequestLog``).
"""

from __future__ import annotations

import argparse
import os

from config import Settings
from election.cli.args import Subparsers
from election.cli.exits import RET_OK
from election.domain.errors import ConfigError
from election.logs import configure_from_settings

#: The port when neither ``--port`` nor ``PORT`` gives one.
DEFAULT_PORT = 8000
#: Every interface: a platform's router reaches the process from outside.
DEFAULT_HOST = "0.0.0.0"


def add_parser(subparsers: Subparsers) -> None:
    """Register ``web``."""
    p = subparsers.add_parser(
        "web",
        help="run the web process: public pages and JSON of the elections",
        description="Serve the list of elections (/ and /api/elections), each election's "
        "result (/elections/E and /api/elections/E/results, the object of `election "
        "results E --json`), /healthz and /readyz (`election status`'s checks), and the "
        "operator console at /operator when OPERATOR_TOKEN is set. Holds no voter IDs. "
        "SIGTERM or Ctrl-C stop it cleanly (exit 0).",
    )
    p.add_argument("--port", type=port_arg, help=f"port (default $PORT, else {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface (default {DEFAULT_HOST})")
    p.set_defaults(run=run_web)


def port_arg(text: str) -> int:
    """A TCP port number."""
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("must be between 1 and 65535")
    return port


def env_port(environ: dict[str, str] | os._Environ[str]) -> int:
    """``PORT`` from the environment, or the default; :class:`ConfigError` when malformed."""
    value = environ.get("PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    try:
        return port_arg(value)
    except (ValueError, argparse.ArgumentTypeError):
        raise ConfigError(f"PORT must be a port number (1-65535), not {value!r}") from None


def run_web(settings: Settings, args: argparse.Namespace) -> int:
    """``election web``: serve until SIGTERM or Ctrl-C (0)."""
    import uvicorn

    from web.app import build_app

    port = args.port or env_port(os.environ)
    configure_from_settings(settings, process="web")
    # log_config=None keeps the logging set up above; uvicorn's records go through it.
    uvicorn.run(
        build_app(settings),
        host=args.host,
        port=port,
        access_log=False,
        log_config=None,
        lifespan="on",
        server_header=False,
    )
    return RET_OK
