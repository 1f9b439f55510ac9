"""`prism`: run the origin, and manage projects, keys and usage from a terminal.

Configuration comes from the environment: SUPABASE_URL, SUPABASE_SERVICE_KEY and, to add
provider keys, PRISM_MASTER_KEY. Provider keys are read from stdin or a named environment
variable, never from the command line, where shell history and `ps` would keep them.

Exit codes: 0 done, 1 refused or not found, 2 usage error, 3 the database is unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from origin.admin.cache_cli import add_cache_commands
from origin.admin.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from origin.admin.feedback_cli import add_feedback_commands
from origin.admin.fields import (
    SLUG,
    base_url_field,
    checked_base_url,
    parse_since,
    parse_tag_filter,
    text_field,
)
from origin.admin.provider_cli import add_update_command
from origin.admin.spend_cli import add_spend_commands
from origin.settings import Settings
from origin.store import Store, StoreError, StoreUnavailable, valid_id
from origin.tenancy.crypto import (
    KeyBox,
    MasterKeyError,
    generate_master_key,
    master_key_from,
)
from origin.tenancy.revocation import Revocations, Revoker
from origin.tenancy.sealing import seal
from shared.errors import PrismError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return it, don't exit the host
        return int(exc.code or 0)
    try:
        if args.run is cmd_serve:
            served: int = cmd_serve(args, Settings.from_env())  # blocking: the server's loop
            return served
        asyncio.run(run_command(args, Settings.from_env()))
    except CliError as exc:
        return _fail(str(exc), exc.code)
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

    projects = _group(commands, "projects", "manage projects")
    create = projects.add_parser("create", help="create a project (and its organisation)")
    create.add_argument("name")
    create.add_argument("--org", help="an existing organisation id")
    create.set_defaults(run=cmd_projects_create)
    projects.add_parser("list", help="list projects").set_defaults(run=cmd_projects_list)

    keys = _group(commands, "keys", "manage gateway API keys")
    create = keys.add_parser("create", help="create an API key (printed once)")
    _project_arg(create)
    create.add_argument("--name")
    create.set_defaults(run=cmd_keys_create)
    listing = keys.add_parser("list", help="list a project's API keys")
    _project_arg(listing)
    listing.set_defaults(run=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=cmd_keys_revoke)

    providers = _group(commands, "providers", "manage provider keys (stored encrypted)")
    add = providers.add_parser("add", help="add a provider key, read from stdin or --key-env")
    _project_arg(add)
    add.add_argument("provider")
    add.add_argument("--name", help="defaults to the provider")
    add.add_argument("--base-url", help="a custom OpenAI-compatible endpoint")
    add.add_argument("--key-env", metavar="VAR", help="read the key from this environment variable")
    add.set_defaults(run=cmd_providers_add)
    listing = providers.add_parser("list", help="list a project's provider keys (never the keys)")
    _project_arg(listing)
    listing.set_defaults(run=cmd_providers_list)
    remove = providers.add_parser("remove", help="remove a provider key by name")
    _project_arg(remove)
    remove.add_argument("name")
    remove.set_defaults(run=cmd_providers_remove)
    add_update_command(providers)

    usage = commands.add_parser("usage", help="recent usage, newest first")
    usage.add_argument("--project", help="only this project")
    usage.add_argument("--tag", help="only rows tagged key=value")
    usage.add_argument("--since", help="only rows at or after this ISO-8601 time")
    usage.add_argument("--limit", type=int, default=20)
    usage.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    usage.set_defaults(run=cmd_usage)
    add_cache_commands(commands)
    add_spend_commands(commands)
    add_feedback_commands(commands)
    return parser


def _group(commands: Any, name: str, help_text: str) -> Any:
    return commands.add_parser(name, help=help_text).add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )


def _project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, metavar="ID", help="project id")


async def run_command(args: argparse.Namespace, settings: Settings) -> None:
    if args.run in (cmd_master_key, cmd_config):
        await args.run(args, settings)
        return
    if not settings.supabase_service_key:
        raise CliError("SUPABASE_SERVICE_KEY is not set", EXIT_USAGE)
    store = Store(settings.supabase_url, settings.supabase_service_key)
    try:
        await args.run(args, settings, store)
    finally:
        await store.aclose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers < 1:
        raise CliError("--workers must be at least 1", EXIT_USAGE)
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


def _field(name: str, value: str | None, required: bool = True, **rules: Any) -> str | None:
    return text_field({name: value}, name, required=required, **rules)


async def _existing_project(store: Store, project_id: str) -> str:
    if await store.get_project(project_id) is None:
        raise CliError(f"no project {project_id!r}")
    return project_id


async def cmd_projects_create(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    if args.org is not None and not valid_id(args.org):
        raise CliError("--org must be an organisation id (a uuid)", EXIT_USAGE)
    project = await store.create_project(str(_field("name", args.name)), args.org)
    print(project.id)
    print(f"created project {project.name!r} in organisation {project.org_id}", file=sys.stderr)


async def cmd_projects_list(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    rows = [asdict(p) for p in await store.list_projects()]
    print_table(
        rows, [("id", "ID"), ("name", "NAME"), ("org_id", "ORG"), ("created_at", "CREATED")]
    )


async def cmd_keys_create(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    name = _field("name", args.name, required=False)
    key, record = await store.create_api_key(await _existing_project(store, args.project), name)
    print(key)
    print(
        f"created API key {record.id} ({record.prefix}...): this is the only time the key is "
        "shown, store it now",
        file=sys.stderr,
    )


async def cmd_keys_list(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    records = await store.list_api_keys(await _existing_project(store, args.project))
    rows = [
        {**asdict(k), "prefix": f"{k.prefix}...", "revoked_at": k.revoked_at or "-"}
        for k in records
    ]
    print_table(
        rows,
        [
            ("id", "ID"),
            ("prefix", "KEY"),
            ("name", "NAME"),
            ("created_at", "CREATED"),
            ("revoked_at", "REVOKED"),
        ],
    )


async def cmd_keys_revoke(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    # Announced through Redis, so running gateways drop the key now, not when caches expire.
    revocations = Revocations(settings.redis_url)
    try:
        record = await Revoker(store, revocations, lambda _: None).revoke(args.key_id)
    finally:
        await revocations.aclose()
    if record is None:
        raise CliError(f"no API key {args.key_id!r}")
    print(f"revoked API key {record.id} ({record.prefix}...) at {record.revoked_at}")


async def cmd_providers_add(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    provider = str(_field("provider", args.provider, limit=64, pattern=SLUG))
    name = _field("name", args.name, required=False, limit=64, pattern=SLUG) or provider
    base_url = base_url_field({"base_url": args.base_url})
    await checked_base_url(base_url, settings)
    keybox = KeyBox(master_key_from(settings))
    secret = read_provider_key(args.key_env, sys.stdin)
    project_id = await _existing_project(store, args.project)
    key = seal(keybox, project_id, secret, name, provider, base_url)
    info = await store.add_provider_key(project_id, provider, key.ciphertext, name, base_url)
    print(f"added provider key {info.name!r} ({info.provider}) to project {project_id}")


async def cmd_providers_list(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    keys = await store.list_provider_keys(await _existing_project(store, args.project))
    rows = [{**asdict(k), "base_url": k.base_url or "(default)"} for k in keys]
    print_table(
        rows,
        [
            ("name", "NAME"),
            ("provider", "PROVIDER"),
            ("base_url", "BASE URL"),
            ("created_at", "CREATED"),
        ],
    )


async def cmd_providers_remove(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    project_id = await _existing_project(store, args.project)
    if not await store.remove_provider_key(project_id, args.name):
        raise CliError(f"no provider key named {args.name!r} in project {project_id}")
    print(f"removed provider key {args.name!r} from project {project_id}")


async def cmd_usage(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    if args.project is not None and not valid_id(args.project):
        raise CliError("--project must be a project id (a uuid)", EXIT_USAGE)
    if args.limit < 1:
        raise CliError("--limit must be at least 1", EXIT_USAGE)
    tag, since = parse_tag_filter(args.tag), parse_since(args.since)
    rows = await store.recent_usage(args.project, args.limit, tag, since)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print_usage(rows, sys.stdout)


def read_provider_key(key_env: str | None, stdin: TextIO) -> str:
    """The provider key from `$key_env`, else stdin (prompted without echo on a terminal)."""
    if key_env is not None:
        value = os.environ.get(key_env, "").strip()
        if not value:
            raise CliError(f"environment variable {key_env} is not set or empty", EXIT_USAGE)
        return value
    if stdin.isatty():
        value = getpass.getpass("provider API key (input hidden): ").strip()
    else:
        value = stdin.readline().strip()
    if not value:
        raise CliError("no provider key given: pipe it on stdin or use --key-env VAR", EXIT_USAGE)
    return value


USAGE_COLUMNS = (
    ("created_at", "TIME"),
    ("request_id", "REQUEST"),
    ("model_used", "MODEL"),
    ("provider", "PROVIDER"),
    ("cache_status", "CACHE"),
    ("tokens_in", "IN"),
    ("tokens_out", "OUT"),
    ("cost_total_cents", "COST¢"),
    ("latency_ms", "MS"),
    ("success", "OK"),
    ("request_tags", "TAGS"),
)


def print_usage(rows: list[dict[str, Any]], out: TextIO) -> None:
    shown = []
    for row in rows:
        tags = row.get("request_tags") or {}
        shown.append(
            {
                **row,
                "created_at": str(row.get("created_at", ""))[:19].replace("T", " "),
                "cost_total_cents": _cents(row.get("cost_total_cents")),
                "success": "yes" if row.get("success") else f"no ({row.get('error_code') or '?'})",
                "request_tags": ",".join(f"{k}={v}" for k, v in tags.items()) or "-",
            }
        )
    print_table(shown, USAGE_COLUMNS, out)


def _cents(value: Any) -> str:
    try:
        return format(Decimal(str(value)).quantize(Decimal("0.0001")), "f")
    except (InvalidOperation, ValueError):
        return str(value)


def print_table(
    rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    if not rows:
        print("(none)", file=out)
        return
    cells = [
        [str(row.get(key) if row.get(key) is not None else "-") for key, _ in columns]
        for row in rows
    ]
    widths = [
        max(len(title), *(len(line[i]) for line in cells)) for i, (_, title) in enumerate(columns)
    ]
    for line in [[title for _, title in columns], *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip(), file=out)


if __name__ == "__main__":
    sys.exit(main())
