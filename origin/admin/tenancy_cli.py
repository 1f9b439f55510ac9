"""`prism projects|keys|providers ...`: a tenant's projects, API keys and provider keys.

Written straight to Supabase with the service key. Provider keys are read from stdin or a named
environment variable, never from the command line, where shell history and `ps` would keep
them; an API key is printed once, on stdout, so it can be piped and is never shown again.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import asdict
from typing import Any, TextIO

from origin.admin.exits import EXIT_USAGE, CliError
from origin.admin.fields import (
    SLUG,
    base_url_field,
    check_destination,
    checked_base_url,
    name_taken,
    text_field,
)
from origin.admin.provider_cli import add_update_command
from origin.admin.tables import print_table
from origin.settings import Settings
from origin.store import Store, StoreError, valid_id
from origin.tenancy.crypto import KeyBox, master_key_from
from origin.tenancy.revocation import Revocations, Revoker
from origin.tenancy.sealing import seal


def add_tenancy_commands(commands: Any) -> None:
    """Register `prism projects`, `prism keys` and `prism providers`."""
    _add_project_commands(commands)
    _add_key_commands(commands)
    _add_provider_commands(commands)


def _add_project_commands(commands: Any) -> None:
    projects = _group(commands, "projects", "manage projects")
    create = projects.add_parser("create", help="create a project (and its organisation)")
    create.add_argument("name")
    create.add_argument("--org", help="an existing organisation id")
    create.set_defaults(run=cmd_projects_create)
    projects.add_parser("list", help="list projects").set_defaults(run=cmd_projects_list)


def _add_key_commands(commands: Any) -> None:
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


def _add_provider_commands(commands: Any) -> None:
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


def _group(commands: Any, name: str, help_text: str) -> Any:
    return commands.add_parser(name, help=help_text).add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )


def _project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, metavar="ID", help="project id")


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
    check_destination(provider, base_url)
    await checked_base_url(base_url, settings)
    keybox = KeyBox(master_key_from(settings))
    secret = read_provider_key(args.key_env, sys.stdin)
    project_id = await _existing_project(store, args.project)
    key = seal(keybox, project_id, secret, name, provider, base_url)
    try:
        info = await store.add_provider_key(project_id, provider, key.ciphertext, name, base_url)
    except StoreError as exc:
        if exc.conflict:
            raise CliError(name_taken(name)) from None
        raise
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
