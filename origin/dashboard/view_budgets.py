"""Budgets: each with what this period has spent against it, how much of it that is and when
it resets; owners and admins add and delete them here (the same checks as `prism budgets`)."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from origin.dashboard import fmt
from origin.dashboard.layout import hidden_fields, read_only_note
from shared.limits import PERIODS

ACTIONS = (("block", "block (402 once spent)"), ("warn", "warn (header, keeps serving)"))


def used_percent(spent: Any, limit: Any) -> Decimal:
    """Spent as a share of the limit; a zero limit is spent by anything (or nothing yet)."""
    spent_cents, limit_cents = fmt.cents(spent), fmt.cents(limit)
    if limit_cents <= 0:
        return Decimal(100) if spent_cents > 0 else Decimal(0)
    return spent_cents * 100 / limit_cents


def _bar(percent: Decimal) -> str:
    width = min(Decimal(100), percent)
    colour = "#dc2626" if percent >= 100 else "#d97706" if percent >= 80 else "#4338ca"
    return (
        f'<div class="meter" title="{percent:.1f}%" style="background:#e2e8f0;border-radius:4px;'
        f'height:8px;min-width:80px"><div style="width:{width:.1f}%;height:8px;border-radius:4px;'
        f'background:{colour}"></div></div>'
    )


def _row(budget: dict[str, Any], project_id: str, can_manage: bool) -> str:
    percent = used_percent(budget.get("spent_cents"), budget.get("limit_cents"))
    scope = budget.get("tag")
    delete = (
        f'<form method="post" action="/dashboard/budgets/delete" style="display:inline">'
        f'{hidden_fields(project_id)}<input type="hidden" name="budget_id" value="{escape(str(budget["id"]))}">'
        '<button type="submit" class="secondary" '
        "onclick=\"return confirm('Delete this budget?')\">Delete</button></form>"
        if can_manage
        else ""
    )
    return (
        f"<tr><td>{fmt.tags(dict([str(scope).split('=', 1)])) if scope else 'whole project'}</td>"
        f"<td class=hide-sm>{escape(str(budget.get('period')))}</td>"
        f"<td class=hide-sm>{escape(str(budget.get('action')))}</td>"
        f"<td class=num>{fmt.money(budget.get('spent_cents'))}</td>"
        f"<td class=num>{fmt.money(budget.get('limit_cents'))}</td>"
        f"<td class=num>{percent:.0f}%</td><td class=hide-sm>{_bar(percent)}</td>"
        f"<td class=hide-sm>{escape(fmt.when(budget.get('resets_at')))}</td><td>{delete}</td></tr>"
    )


EVENTS = {
    "budget.created": "budget added",
    "budget.deleted": "budget deleted",
    "limits.updated": "rate limits set",
    "budget.warn": "budget passed 80%",
    "budget.block": "budget refused a request",
    "rate_limit": "rate limit refused a request",
}


def audit_detail(event: str, detail: Any) -> str:
    """A policy_audit row's detail as the page shows it (escaped HTML)."""
    if not isinstance(detail, dict):
        return ""
    if event in ("budget.created", "budget.deleted"):
        tag = f" · {detail['tag']}" if detail.get("tag") else ""
        return (
            f"{escape(str(detail.get('action')))} at {fmt.money(detail.get('limit_cents'))} a "
            f"{escape(str(detail.get('period')))}{escape(tag)}"
        )
    shown = [(k, v) for k, v in detail.items() if k not in ("object", "project_id")][:4]
    return escape(", ".join(f"{k}={v}" for k, v in shown))


def audit_panel(rows: list[dict[str, Any]]) -> str:
    body = (
        "".join(
            f"<tr><td>{escape(fmt.when(r.get('created_at')))}</td><td>{escape(str(r.get('actor')))}</td>"
            f"<td>{escape(EVENTS.get(str(r.get('event')), str(r.get('event'))))}</td>"
            f"<td class='hide-sm wrap'>{audit_detail(str(r.get('event')), r.get('detail'))}</td></tr>"
            for r in rows
        )
        or '<tr><td colspan="4" class="muted">No changes yet.</td></tr>'
    )
    return (
        '<div class="panel"><h2>Changes and refusals</h2><table><thead><tr><th>Time</th>'
        "<th>Who</th><th>What</th><th class=hide-sm>Detail</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _create_form(project_id: str) -> str:
    periods = "".join(
        f'<option value="{p}"{" selected" if p == "month" else ""}>{p}</option>' for p in PERIODS
    )
    actions = "".join(f'<option value="{v}">{escape(t)}</option>' for v, t in ACTIONS)
    return f"""<div class="panel"><form method="post" action="/dashboard/budgets" class="filters">{hidden_fields(project_id)}
<div><label for="limit">Limit (US$)</label><input id="limit" name="limit_dollars" inputmode="decimal" placeholder="50.00" required></div>
<div><label for="period">Period</label><select id="period" name="period">{periods}</select></div>
<div><label for="action">When spent</label><select id="action" name="action">{actions}</select></div>
<div><label for="tag">Only requests tagged</label><input id="tag" name="tag" placeholder="feature=search (optional)"></div>
<div class="row"><button type="submit">Add budget</button></div></form></div>"""


def render(
    budgets: list[dict[str, Any]],
    project_id: str,
    can_manage: bool,
    notice: str = "",
    error: str = "",
) -> str:
    banner = f'<div class="notice">{escape(notice)}</div>' if notice else ""
    problem = f'<div class="error">{escape(error)}</div>' if error else ""
    rows = "".join(_row(b, project_id, can_manage) for b in budgets) or (
        '<tr><td colspan="9" class="muted">No budgets yet: requests are not limited by spend.</td></tr>'
    )
    form = _create_form(project_id) if can_manage else read_only_note("add or delete budgets")
    return f"""<h1>Budgets</h1><p class="sub">Spend limits per day, week or month (UTC), for the
whole project or for requests with one tag. Spent is what this period's usage rows cost, as
budgets count it. Every budget adds <span class=mono>X-Prism-Budget-Warning</span> to responses
from 80% spent; a block budget then refuses a request that could take it past its limit (402),
a warn budget never refuses. Cache hits cost nothing and are always served.</p>{banner}{problem}
{form}<div class="panel"><table><thead><tr><th>Scope</th><th class=hide-sm>Period</th><th class=hide-sm>Action</th>
<th class=num>Spent</th><th class=num>Limit</th><th class=num>Used</th><th class=hide-sm></th>
<th class=hide-sm>Resets</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"""
