"""The Activity page: who changed what in a project and its organisation, newest first."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from origin.dashboard import fmt, view_budgets

# What each recorded action reads as; an action not listed shows as recorded.
ACTIONS = {
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "provider_key.added": "provider key added",
    "provider_key.updated": "provider key changed",
    "provider_key.removed": "provider key removed",
    "member.added": "member added",
    "member.role_changed": "member's role changed",
    "member.removed": "member removed",
    "cache.purged": "cache purged",
    # The budget and limit changes, worded as the Budgets page words them.
    **{e: view_budgets.EVENTS[e] for e in ("budget.created", "budget.deleted", "limits.updated")},
}


def _detail(action: str, detail: Any) -> str:
    """A budget or limit change's JSON detail worded as the Budgets page words it; any other
    detail as it is."""
    if action in view_budgets.EVENTS and detail:
        try:
            parsed = json.loads(str(detail))
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return view_budgets.audit_detail(action, parsed)
    return escape(str(detail or ""))


def _row(entry: dict[str, Any]) -> str:
    action = str(entry.get("action") or "")
    cells = (
        fmt.when(entry.get("created_at")),
        escape(str(entry.get("actor") or "")),
        escape(ACTIONS.get(action, action)),
        escape(str(entry.get("subject") or "")),
        _detail(action, entry.get("detail")),
    )
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render_activity(entries: list[dict[str, Any]]) -> str:
    rows = "".join(_row(e) for e in entries) or (
        '<tr><td colspan="5" class="sub">Nothing changed yet.</td></tr>'
    )
    return (
        "<main><h1>Activity</h1>"
        '<p class="sub">Who changed this project and its organisation: API keys, provider '
        "keys, members, budgets, rate limits and cache purges, the newest 100. Changes are "
        "recorded by the database as they are made, from the dashboard, the admin API, the CLI "
        "or SQL; a person is named as <span class=mono>user:</span>email, the admin API as "
        "<span class=mono>admin</span>, the CLI as <span class=mono>cli:</span>account@host."
        "</p><div class=panel><table><thead><tr><th>When</th><th>Who</th><th>What</th>"
        f"<th>Which</th><th>Detail</th></tr></thead><tbody>{rows}</tbody></table></div></main>"
    )
