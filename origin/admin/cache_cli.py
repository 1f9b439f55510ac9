"""`prism cache purge --project ID (--key FP | --tag k=v | --all)`: invalidation from a shell.

Talks to Redis and the vector index named by REDIS_URL / UPSTASH_VECTOR_REST_*, records the
purge in cache_purges through SUPABASE_URL / SUPABASE_SERVICE_KEY, and prints what it removed.
"""

from __future__ import annotations

import argparse
import getpass
import socket
from typing import Any

from origin.admin.exits import EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from origin.admin.purging import run_purge
from origin.cache.config import CacheConfig
from origin.cache.exact import ExactStore, LayerDown
from origin.cache.purge import Purger
from origin.cache.purge_log import PurgeLog
from origin.cache.service import semantic_index
from origin.settings import Settings
from origin.store import Store, valid_id


def add_cache_commands(commands: Any) -> None:
    """Register `cache purge` on the `prism` parser's subcommands."""
    cache = commands.add_parser("cache", help="manage the response cache").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    purge = cache.add_parser("purge", help="delete cached responses (recorded in cache_purges)")
    purge.add_argument("--project", required=True, metavar="ID", help="project id")
    what = purge.add_mutually_exclusive_group(required=True)
    what.add_argument("--key", metavar="FP", help="one entry, by its cache key (fingerprint)")
    what.add_argument("--tag", metavar="K=V", help="every entry written with this tag")
    what.add_argument("--all", action="store_true", help="every entry of the project")
    purge.set_defaults(run=cmd_cache_purge)


def actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


async def cmd_cache_purge(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    if not valid_id(args.project):
        raise CliError("--project must be a project id (a uuid)", EXIT_USAGE)
    if await store.get_project(args.project) is None:
        raise CliError(f"no project {args.project!r}")
    config = CacheConfig.from_settings(settings)
    exact = ExactStore(settings.redis_url, config.store_timeout_s, config.store_timeout_s)
    semantic = semantic_index(settings, config)
    try:
        project_id = args.project
        purger = Purger(exact, semantic, PurgeLog(store))
        what = {"key": args.key, "tag": args.tag, "all": args.all or None}
        result = await run_purge(purger, project_id, what, actor())
    except LayerDown as exc:
        raise CliError(f"cache unavailable: {exc}", EXIT_UNAVAILABLE) from None
    finally:
        await exact.aclose()
        if semantic is not None:
            await semantic.aclose()
    what_text = f"{result.scope} {result.target}" if result.target else "all"
    print(f"purged {result.removed} cached responses from project {project_id} ({what_text})")
