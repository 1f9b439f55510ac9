"""`prism`: run the origin, and manage projects, keys and usage from a terminal.

Configuration comes from the environment: SUPABASE_URL, SUPABASE_SERVICE_KEY and, to add
provider keys, PRISM_MASTER_KEY. This module is the entry point and the parser; each group of
commands registers itself from its own `*_cli` module, so one command's errors map to exit
codes in one place.

Exit codes: 0 done, 1 refused or not found, 2 usage error, 3 the database is unavailable,
141 the output's reader closed the pipe early (as for SIGPIPE).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from origin.admin.cache_cli import actor, add_cache_commands
from origin.admin.exits import (
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliError,
)
from origin.admin.feedback_cli import add_feedback_commands
from origin.admin.spend_cli import add_spend_commands
from origin.admin.tenancy_cli import add_tenancy_commands
from origin.admin.usage_cli import add_usage_command
from origin.settings import Settings
from origin.store import Store, StoreError, StoreUnavailable
from origin.store.actor import acting_for
from origin.tenancy.crypto import MasterKeyError, generate_master_key
from shared.errors import NotFound, PrismError


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        # Flushed here rather than at interpreter exit, where a closed pipe would only be
        # reported as an "Exception ignored" message on stderr.
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return code


def _reader_gone() -> int:
    """`prism ... | head` read what it wanted and closed the pipe: stop without a traceback.

    The status is a SIGPIPE death's (128 + 13), what coreutils, git and most Unix tools give in
    the same pipe, so a `set -o pipefail` script treats prism as it treats them, and a write
    command (`keys create`) whose output was cut off does not claim it was all delivered.
    """
    # Python flushes stdout once more at exit; pointed at /dev/null, that flush cannot fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE_CLOSED


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return it, don't exit the host
        return int(exc.code or 0)
    try:
        if args.run is cmd_serve:
            served: int = cmd_serve(args, Settings.from_env())  # blocking: the server's loop
            return served
        # What a command changes is recorded under the operator's account and host.
        with acting_for(actor()):
            asyncio.run(run_command(args, Settings.from_env()))
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except NotFound as exc:  # the docstring's "1 refused or not found", as keys revoke gives
        return _fail(exc.message, EXIT_REFUSED)
    except PrismError as exc:
        return _fail(exc.message, EXIT_USAGE)
    except (MasterKeyError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except StoreUnavailable as exc:
        return _fail(f"database unavailable: {exc}", EXIT_UNAVAILABLE)
    except StoreError as exc:
        return _fail(f"refused: {exc.message}", EXIT_REFUSED)
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"prism: error: {message}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prism", description="Prism LLM gateway")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the origin (uvicorn) on PRISM_HOST:PRISM_PORT")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default 1)"
    )
    serve.set_defaults(run=cmd_serve)
    master = commands.add_parser("master-key", help="print a new PRISM_MASTER_KEY")
    master.set_defaults(run=cmd_master_key)
    config = commands.add_parser(
        "config", help="print the effective configuration (environment and .env, secrets ***)"
    )
    config.set_defaults(run=cmd_config)
    add_tenancy_commands(commands)
    add_usage_command(commands)
    add_cache_commands(commands)
    add_spend_commands(commands)
    add_feedback_commands(commands)
    return parser


async def run_command(args: argparse.Namespace, settings: Settings) -> None:
    if args.run in (cmd_master_key, cmd_config):
        await args.run(args, settings)
        return
    _require_service_key(settings)
    store = Store(settings.supabase_url, settings.supabase_service_key)
    try:
        await args.run(args, settings, store)
    finally:
        await store.aclose()


def _require_service_key(settings: Settings) -> None:
    """Every command but master-key and config reads the database, and so does the origin:
    without the key it would start, say ok on /healthz and answer every request 503."""
    if not settings.supabase_service_key:
        raise CliError("SUPABASE_SERVICE_KEY is not set", EXIT_USAGE)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers < 1:
        raise CliError("--workers must be at least 1", EXIT_USAGE)
    _require_service_key(settings)
    from origin.admin.serve import serve

    code: int = serve(settings, args.workers)
    return code


async def cmd_master_key(args: argparse.Namespace, settings: Settings) -> None:
    print(generate_master_key())


async def cmd_config(args: argparse.Namespace, settings: Settings) -> None:
    rows = settings.describe()
    width = max(len(name) for name, _, _ in rows)
    for name, value, meaning in rows:
        print(f"{name:<{width}}  {value or '(unset)':<28}  # {meaning}")


if __name__ == "__main__":
    sys.exit(main())
