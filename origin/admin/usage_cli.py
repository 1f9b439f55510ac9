"""`prism usage`: recent usage rows in a terminal, cents exact to the fourth decimal.

The rows come straight from Supabase, newest first; `--json` hands them to other tools as
they are, the table rounds nothing but the cents to four places and shortens times to seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from origin.admin.exits import EXIT_USAGE, CliError
from origin.admin.fields import parse_since, parse_tag_filter
from origin.admin.tables import print_table
from origin.settings import Settings
from origin.store import Store, valid_id


def add_usage_command(commands: Any) -> None:
    """Register `prism usage` on the top-level subcommands."""
    usage = commands.add_parser("usage", help="recent usage, newest first")
    usage.add_argument("--project", help="only this project")
    usage.add_argument("--tag", help="only rows tagged key=value")
    usage.add_argument("--since", help="only rows at or after this ISO-8601 time")
    usage.add_argument("--limit", type=int, default=20)
    usage.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    usage.set_defaults(run=cmd_usage)


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
