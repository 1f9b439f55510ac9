"""`prism budgets ...` and `prism limits ...`: spend control from a shell.

The same validation and audit trail as the admin API (origin.spend.changes), written straight
to Supabase; running origins pick a change up within PRISM_SPEND_POLICY_TTL_S.
"""

from __future__ import annotations

import argparse
from typing import Any

from origin.admin.cache_cli import actor
from origin.admin.exits import EXIT_USAGE, CliError
from origin.admin.tables import print_table
from origin.settings import Settings
from origin.spend import changes
from origin.store import Store, valid_id

BUDGET_COLUMNS = [
    ("id", "ID"),
    ("period", "PERIOD"),
    ("action", "ACTION"),
    ("tag", "TAG"),
    ("limit_cents", "LIMIT_CENTS"),
    ("spent_cents", "SPENT_CENTS"),
    ("resets_at", "RESETS_AT"),
]
LIMIT_FLAGS = {
    "rpm": "requests_per_minute",
    "rpd": "requests_per_day",
    "rpmonth": "requests_per_month",
    "tpm": "tokens_per_minute",
}


def add_spend_commands(commands: Any) -> None:
    """Register `budgets` and `limits` on the `prism` parser's subcommands."""
    budgets = commands.add_parser("budgets", help="spend budgets").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = budgets.add_parser("create", help="add a budget to a project")
    create.add_argument("--project", required=True, metavar="ID")
    create.add_argument("--limit-cents", required=True, metavar="CENTS")
    create.add_argument("--period", default="month", choices=["day", "week", "month"])
    create.add_argument("--action", dest="on_limit", default="block", choices=["block", "warn"])
    create.add_argument("--tag", metavar="K=V", help="only requests with this tag")
    create.set_defaults(run=cmd_budgets_create)
    listing = budgets.add_parser("list", help="a project's budgets with this period's spend")
    listing.add_argument("--project", required=True, metavar="ID")
    listing.set_defaults(run=cmd_budgets_list)
    delete = budgets.add_parser("delete", help="remove a budget")
    delete.add_argument("budget_id", metavar="BUDGET_ID")
    delete.set_defaults(run=cmd_budgets_delete)
    limits = commands.add_parser("limits", help="rate limits").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    put = limits.add_parser("set", help="replace a project's (or one key's) rate limits")
    put.add_argument("--project", metavar="ID", help="the project's own limits")
    put.add_argument("--key", metavar="KEY_ID", help="one API key's limits")
    put.add_argument("--preset", choices=["fair-use"], help="1,000 requests/day, 30,000/month")
    for flag, name in LIMIT_FLAGS.items():
        put.add_argument(f"--{flag}", type=int, metavar="N", help=name.replace("_", " "))
    put.set_defaults(run=cmd_limits_set)
    show = limits.add_parser("show", help="a project's limits and its keys'")
    show.add_argument("--project", required=True, metavar="ID")
    show.set_defaults(run=cmd_limits_show)


async def _project(store: Store, project_id: str) -> str:
    if not valid_id(project_id) or await store.get_project(project_id) is None:
        raise CliError(f"no project {project_id!r}")
    return project_id


async def cmd_budgets_create(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    project_id = await _project(store, args.project)
    body = {"limit_cents": args.limit_cents, "period": args.period, "action": args.on_limit}
    if args.tag is not None:
        body["tag"] = args.tag
    budget = await changes.create_budget(store, project_id, body, actor())
    print(budget["id"])


async def cmd_budgets_list(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    rows = await changes.budgets_with_spend(store, await _project(store, args.project))
    print_table(rows, BUDGET_COLUMNS)


async def cmd_budgets_delete(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    deleted = await changes.delete_budget(store, args.budget_id, actor())
    print(f"deleted budget {deleted['id']} of project {deleted['project_id']}")


async def cmd_limits_set(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    if (args.project is None) == (args.key is None):
        raise CliError("name exactly one of --project or --key", EXIT_USAGE)
    body: dict[str, Any] = {name: getattr(args, flag) for flag, name in LIMIT_FLAGS.items()}
    body = {k: v for k, v in body.items() if v is not None}
    if args.preset:
        body["preset"] = args.preset
    if args.key is not None:
        record = await store.get_api_key(args.key)
        if record is None:
            raise CliError(f"no API key {args.key!r}")
        project_id, key_id = record.project_id, args.key
    else:
        project_id, key_id = await _project(store, args.project), None
    shown = await changes.put_limits(store, project_id, key_id, body, actor())
    print(_limits_line(shown))


async def cmd_limits_show(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    project_id = await _project(store, args.project)
    rows = await store.list_limits(project_id)
    own = next((r for r in rows if not r.get("api_key_id")), None)
    print(_limits_line(changes.limits_json(own, project_id, None)))
    for row in rows:
        if row.get("api_key_id"):
            print(_limits_line(changes.limits_json(row, project_id, row["api_key_id"])))


def _limits_line(shown: dict[str, Any]) -> str:
    who = f"key {shown['api_key_id']}" if shown["api_key_id"] else f"project {shown['project_id']}"
    values = " ".join(f"{flag}={shown[name] or '-'}" for flag, name in LIMIT_FLAGS.items())
    return f"{who}: {values}"
