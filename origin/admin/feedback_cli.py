"""`prism feedback --project ID [--since T] [--json]`: ratings per task type and model.

Reads the `feedback_quality` SQL function through SUPABASE_URL: for each task type and the
model that answered it, how many ratings arrived, thumbs up and down, the mean 1-5 score and
a 0..1 quality, worst first, so a team sees which routing choices cost answer quality.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from origin.admin.exits import EXIT_USAGE, CliError
from origin.admin.fields import parse_since
from origin.settings import Settings
from origin.store import Store, valid_id

COLUMNS = ("task_type", "model", "ratings", "thumbs_up", "thumbs_down", "avg_score", "quality")


def add_feedback_commands(commands: Any) -> None:
    """Register `feedback` on the `prism` parser's subcommands."""
    feedback = commands.add_parser("feedback", help="answer quality per task type and model")
    feedback.add_argument("--project", required=True, metavar="ID", help="project id")
    feedback.add_argument("--since", help="only feedback at or after this ISO-8601 time")
    feedback.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    feedback.set_defaults(run=cmd_feedback)


async def cmd_feedback(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    if not valid_id(args.project):
        raise CliError("--project must be a project id (a uuid)", EXIT_USAGE)
    rows = await store.feedback_quality(args.project, parse_since(args.since))
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print_feedback(rows, sys.stdout)


def print_feedback(rows: list[dict[str, Any]], out: TextIO) -> None:
    if not rows:
        print("no rated answers yet", file=out)
        return
    cells = [[_cell(row.get(c)) for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    for line in (list(COLUMNS), *cells):
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip(), file=out)


def _cell(value: object) -> str:
    return "-" if value is None else str(value)
