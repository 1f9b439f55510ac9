"""Rate limits, shown beside the budgets: the project's own and each API key's, per minute, day
and month and tokens per minute; owners and admins replace them here (as `prism limits set`)."""

from __future__ import annotations

from html import escape
from typing import Any

from origin.dashboard import fmt
from origin.dashboard.layout import hidden_fields
from shared.limits import LIMIT_FIELDS

LABELS = {
    "requests_per_minute": "Requests / min",
    "requests_per_day": "Requests / day",
    "requests_per_month": "Requests / month",
    "tokens_per_minute": "Tokens / min",
}
PROJECT = "project"


def _name(key: dict[str, Any]) -> str:
    return f"key {key.get('name') or '—'} ({key.get('prefix')}…)"


def _row(subject: str, limits: dict[str, Any]) -> str:
    cells = "".join(
        f"<td class=num>{fmt.count(limits[f]) if limits.get(f) else '<span class=muted>none</span>'}</td>"
        for f in LIMIT_FIELDS
    )
    return f"<tr><td>{escape(subject)}</td>{cells}</tr>"


def _form(project_id: str, keys: list[dict[str, Any]]) -> str:
    subjects = [(PROJECT, "the whole project")] + [
        (str(k["id"]), _name(k)) for k in keys if not k.get("revoked_at")
    ]
    options = "".join(f'<option value="{escape(v)}">{escape(t)}</option>' for v, t in subjects)
    inputs = "".join(
        f'<div><label for="{f}">{LABELS[f]}</label><input id="{f}" name="{f}" '
        'inputmode="numeric" placeholder="none"></div>'
        for f in LIMIT_FIELDS
    )
    return (
        '<form method="post" action="/dashboard/limits" class="filters" style="margin-bottom:12px">'
        f"{hidden_fields(project_id)}"
        f'<div><label for="subject">Applies to</label><select id="subject" name="subject">{options}'
        f'</select></div>{inputs}<div class="row"><button type="submit">Set limits</button></div>'
        "</form>"
    )


def render(
    rows: list[dict[str, Any]], keys: list[dict[str, Any]], project_id: str, can_manage: bool
) -> str:
    names = {str(k["id"]): _name(k) for k in keys}
    by_subject = {str(r.get("api_key_id") or PROJECT): r for r in rows}
    shown = [("whole project", by_subject.get(PROJECT, {}))] + [
        (names.get(subject, f"key {subject}"), limits)
        for subject, limits in by_subject.items()
        if subject != PROJECT
    ]
    body = "".join(_row(subject, limits) for subject, limits in shown)
    headers = "".join(f"<th class=num>{LABELS[f]}</th>" for f in LIMIT_FIELDS)
    form = _form(project_id, keys) if can_manage else ""
    return f"""<div class="panel"><h2>Rate limits</h2><p class="sub">Fixed UTC windows; over a
limit a request gets 429 with <span class=mono>Retry-After</span>. Setting limits replaces that
subject's: a field left empty is no limit.</p>{form}<table><thead><tr><th>Applies to</th>
{headers}</tr></thead><tbody>{body}</tbody></table></div>"""
