"""`prism providers update --project ID NAME [--provider P] [--base-url URL | --default-url]`:
point a stored provider key at another provider or endpoint, re-sealed for it."""

from __future__ import annotations

import argparse
from typing import Any

from origin.admin.fields import SLUG, base_url_field, check_destination, checked_base_url
from origin.settings import Settings
from origin.store import Store
from origin.tenancy.crypto import DecryptionFailed, KeyBox, master_key_from
from origin.tenancy.sealing import change_destination
from shared.errors import InvalidRequest, NotFound


def add_update_command(providers: Any) -> None:
    """Register `providers update` on the `prism providers` subcommands."""
    update = providers.add_parser(
        "update", help="change a provider key's provider or base URL (the key is re-sealed)"
    )
    update.add_argument("--project", required=True, metavar="ID", help="project id")
    update.add_argument("name")
    update.add_argument("--provider", help="the provider whose wire rules apply")
    url = update.add_mutually_exclusive_group()
    url.add_argument("--base-url", help="a custom OpenAI-compatible endpoint")
    url.add_argument("--default-url", action="store_true", help="use the provider's own URL")
    update.set_defaults(run=cmd_providers_update)


async def cmd_providers_update(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    box = KeyBox(master_key_from(settings))
    if not SLUG.fullmatch(args.name):
        raise InvalidRequest("the name may hold only letters, digits, '.', '_' and '-'")
    found = await store.provider_keys(args.project, args.name)
    if not found:
        raise NotFound(f"no provider key named {args.name!r} in project {args.project}")
    key = found[0]
    provider = args.provider or key.provider
    if not SLUG.fullmatch(provider):
        raise InvalidRequest("--provider may hold only letters, digits, '.', '_' and '-'")
    base_url = key.base_url
    if args.default_url:
        base_url = None
    elif args.base_url is not None:
        base_url = base_url_field({"base_url": args.base_url})
    check_destination(provider, base_url)
    await checked_base_url(base_url, settings)
    try:
        info = await change_destination(store, box, args.project, key, provider, base_url)
    except DecryptionFailed:
        raise InvalidRequest(
            f"provider key {args.name!r} does not decrypt for its stored provider and base URL; "
            "add it again"
        ) from None
    if info is None:
        raise InvalidRequest(f"provider key {args.name!r} changed meanwhile; retry")
    print(f"provider key {info.name!r} now calls {info.provider} at {info.base_url or '(default)'}")
