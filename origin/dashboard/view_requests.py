"""The request log (filters, keyset pages) and one request's receipt with its feedback."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from starlette.datastructures import QueryParams

from origin.dashboard import fmt
from origin.dashboard.layout import href
from shared.options import MODES
from shared.usage import CACHE_STATUSES

PAGE_SIZE = 50
TEXT_FILTERS = ("model", "provider", "task_type", "session")


def _day(text: str | None, end: bool = False) -> str | None:
    """A yyyy-mm-dd date as the UTC instant it starts (or, for `end`, the next day's start)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return f"{day + timedelta(days=1) if end else day}T00:00:00+00:00"


def filters_from(query: QueryParams) -> dict[str, Any]:
    """The RPC arguments the page's query string asks for; unknown or empty values are dropped."""
    out: dict[str, Any] = {name: (query.get(name) or "").strip() or None for name in TEXT_FILTERS}
    out["from"], out["to"] = _day(query.get("from")), _day(query.get("to"), end=True)
    tag = (query.get("tag") or "").strip()
    if "=" in tag:
        out["tag_key"], out["tag_value"] = (part.strip() for part in tag.split("=", 1))
    out["mode"] = query.get("mode") if query.get("mode") in MODES else None
    cache = query.get("cache_status")
    out["cache_status"] = cache if cache in CACHE_STATUSES else None
    out["success"] = {"yes": True, "no": False}.get(query.get("success") or "")
    before_at, before_id = query.get("before_at"), query.get("before_id")
    if before_at and before_id:
        try:
            datetime.fromisoformat(before_at)
            out["before_at"], out["before_id"] = before_at, before_id
        except ValueError:
            pass
    out["limit"] = PAGE_SIZE
    return out


def _select(name: str, label: str, options: list[tuple[str, str]], chosen: str | None) -> str:
    opts = "".join(
        f'<option value="{escape(v)}"{" selected" if v == (chosen or "") else ""}>{escape(t)}</option>'
        for v, t in [("", "Any"), *options]
    )
    return f'<div><label for="{name}">{label}</label><select id="{name}" name="{name}">{opts}</select></div>'


def _input(name: str, label: str, value: str | None, kind: str = "text", hint: str = "") -> str:
    return (
        f'<div><label for="{name}">{label}</label><input id="{name}" name="{name}" type="{kind}" '
        f'value="{escape(value or "")}" placeholder="{escape(hint)}"></div>'
    )


def filter_form(query: QueryParams, project_id: str) -> str:
    q = query.get
    fields = [
        _input("tag", "Tag", q("tag"), hint="feature=search"),
        _input("from", "From", q("from"), "date"),
        _input("to", "To", q("to"), "date"),
        _input("model", "Model", q("model"), hint="gpt-4o-mini"),
        _input("provider", "Provider", q("provider"), hint="openai"),
        _select("mode", "Mode", [(m, m) for m in MODES], q("mode")),
        _input("task_type", "Task type", q("task_type"), hint="simple"),
        _select("cache_status", "Cache", [(s, s) for s in CACHE_STATUSES], q("cache_status")),
        _input("session", "Session", q("session")),
        _select("success", "Outcome", [("yes", "Succeeded"), ("no", "Failed")], q("success")),
    ]
    return (
        f'<form class="filters panel" method="get" action="/dashboard/requests">'
        f'<input type="hidden" name="project" value="{escape(project_id)}">{"".join(fields)}'
        '<div class="row"><button type="submit">Apply</button>'
        f'<a class="button secondary" href="{escape(href("/requests", project_id))}" '
        'style="background:#fff;color:#334155;border:1px solid #cbd5e1">Reset</a></div></form>'
    )


def _short_time(value: Any) -> str:
    """2026-12-06 05:47:39 UTC, shortened to 12-06 05:47 on a phone."""
    text = fmt.when(value)
    if len(text) != 23:
        return escape(text)
    return (
        f"<span class=hide-sm>{text[:5]}</span>{text[5:16]}<span class=hide-sm>{text[16:]}</span>"
    )


def _status(row: dict[str, Any]) -> str:
    if not row.get("success"):
        return f'<span class="pill err">{escape(str(row.get("error_code") or "failed"))}</span>'
    status = str(row.get("cache_status"))
    kind = "hit" if status.startswith("hit") else "miss"
    return f'<span class="pill {kind}">{escape(status)}</span>'


def _linked(row: dict[str, Any], project_id: str) -> str:
    """A row that is part of another request (linked rows are not requests: see _part_of)."""
    parent = row.get("parent_request_id")
    if not parent:
        return ""
    label = "hedge loser" if row.get("error_code") == "hedge_lost" else "panel call"
    link = escape(href("/requests/" + str(parent), project_id))
    return f' <a class="pill" href="{link}" title="Part of request {escape(str(parent))}">{label} ↑</a>'


def render_list(rows: list[dict[str, Any]], query: QueryParams, project_id: str) -> str:
    body = "".join(
        f'<tr><td><a href="{escape(href("/requests/" + str(r["request_id"]), project_id))}">'
        f"{_short_time(r.get('created_at'))}</a></td>"
        f"<td>{escape(str(r.get('model_used')))}</td><td class=hide-sm>{escape(str(r.get('provider')))}</td>"
        f"<td class=hide-sm>{escape(str(r.get('mode')))}</td><td class=hide-sm>{escape(str(r.get('task_type')))}</td>"
        f"<td>{_status(r)}{_linked(r, project_id)}</td>"
        f"<td class=num>{fmt.money(r.get('cost_total_cents'))}</td>"
        f"<td class='num hide-sm'>{fmt.money(r.get('cache_saved_cents'))}</td>"
        f"<td class='num hide-sm'>{fmt.ms(r.get('latency_ms'))}</td>"
        f"<td class='hide-sm wrap'>{fmt.tags(r.get('request_tags'))}</td></tr>"
        for r in rows
    )
    if not rows:
        body = '<tr><td colspan="10" class="muted">No requests match these filters.</td></tr>'
    pager = ""
    if len(rows) == PAGE_SIZE:
        last = rows[-1]
        params = {k: v for k, v in query.items() if k not in ("before_at", "before_id")}
        params.update(before_at=str(last["created_at"]), before_id=str(last["request_id"]))
        params.pop("project", None)
        pager = f'<a class="button secondary" href="{escape(href("/requests", project_id, **params))}">Older →</a>'
    newest = ""
    if query.get("before_at"):
        params = {k: v for k, v in query.items() if k not in ("before_at", "before_id", "project")}
        newest = f'<a href="{escape(href("/requests", project_id, **params))}">← Newest</a>'
    return f"""<h1>Requests</h1><p class="sub">Newest first, {PAGE_SIZE} per page. Times UTC.</p>
{filter_form(query, project_id)}<div class="panel"><table><thead><tr><th>Time</th><th>Model</th>
<th class=hide-sm>Provider</th><th class=hide-sm>Mode</th><th class=hide-sm>Task</th><th>Cache</th>
<th class=num>Cost</th><th class='num hide-sm'>Cache saved</th><th class='num hide-sm'>Latency</th>
<th class=hide-sm>Tags</th></tr></thead><tbody>{body}</tbody></table>
<div class="pager"><span>{newest}</span><span>{pager}</span></div></div>"""


def render_detail(row: dict[str, Any], feedback: list[dict[str, Any]], project_id: str) -> str:
    receipt = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in _receipt_items(row, project_id))
    return f"""<p><a href="{escape(href("/requests", project_id))}">← Requests</a></p>
<h1>Request receipt</h1><p class="sub">The same numbers the response carried in its X-Prism-* headers.</p>
<div class="panel"><dl class="receipt">{receipt}</dl></div>
<div class="panel"><h2>Feedback</h2><table><thead><tr><th>Time</th><th>Rating</th><th>Comment</th>
</tr></thead><tbody>{_feedback_rows(feedback)}</tbody></table></div>"""


def _receipt_items(row: dict[str, Any], project_id: str) -> list[tuple[str, str]]:
    """The receipt's (title, HTML) pairs: the response's headers first, then what the row adds;
    a linked row (a fusion panel call, a hedge's loser) first says which request it is part of."""
    return [*_part_of(row, project_id), *_header_items(row), *_row_items(row)]


def _part_of(row: dict[str, Any], project_id: str) -> list[tuple[str, str]]:
    """No response carried a linked row's numbers; its parent's did. A panel call's cost is
    already in its parent's (counting both would count it twice); a hedge loser's is not."""
    parent = row.get("parent_request_id")
    if not parent:
        return []
    link = escape(href("/requests/" + str(parent), project_id))
    if row.get("error_code") == "hedge_lost":
        note = "a hedge's losing attempt, billed on its own: not in that request's cost"
    else:
        note = "a call made for it: its cost is already in that request's cost"
    return [
        (
            "Part of request",
            f'<a class="mono" href="{link}">{escape(str(parent))}</a> ({escape(note)})',
        )
    ]


def _header_items(row: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            "X-Prism-Request-Id / Feedback-Id",
            f'<span class="mono">{escape(str(row["request_id"]))}</span>',
        ),
        ("Time", escape(fmt.when(row.get("created_at")))),
        ("X-Prism-Model", escape(str(row.get("model_used")))),
        ("X-Prism-Provider", escape(str(row.get("provider")))),
        ("X-Prism-Mode", escape(str(row.get("mode")))),
        ("X-Prism-Task-Type", escape(str(row.get("task_type")))),
        ("X-Prism-Cache-Status", _status(row)),
        (
            "X-Prism-Cost-Cents",
            f"{escape(str(row.get('cost_total_cents')))} ¢ ({fmt.money_exact(row.get('cost_total_cents'))})",
        ),
        ("X-Prism-Cache-Saved-Cents", f"{escape(str(row.get('cache_saved_cents')))} ¢"),
        (
            "X-Prism-Native-Cache-Saved-Cents",
            f"{escape(str(row.get('native_cache_saved_cents')))} ¢",
        ),
        ("X-Prism-Usage-Reported", "true" if row.get("usage_reported") else "false"),
    ]


def _row_items(row: dict[str, Any]) -> list[tuple[str, str]]:
    routing = fmt.cents(row.get("routing_saved_cents"))
    return [
        (
            "Routing saved",
            f"{escape(str(row.get('routing_saved_cents')))} ¢ against {escape(str(row.get('reference_model') or '—'))}"
            if routing or row.get("reference_model")
            else "0 ¢",
        ),
        (
            "Tokens in / out",
            f"{fmt.count(row.get('tokens_in'))} / {fmt.count(row.get('tokens_out'))}",
        ),
        (
            "Provider cache read / written",
            f"{fmt.count(row.get('tokens_cache_read'))} / {fmt.count(row.get('tokens_cache_write'))}",
        ),
        ("Latency", fmt.ms(row.get("latency_ms"))),
        ("Streamed", "yes" if row.get("was_streaming") else "no"),
        ("Session", escape(str(row.get("session_id") or "—"))),
        ("Tags", fmt.tags(row.get("request_tags")) or "—"),
        ("Cache entry", f'<span class="mono">{escape(str(row.get("cache_key") or "—"))}</span>'),
    ]


def _feedback_rows(feedback: list[dict[str, Any]]) -> str:
    return (
        "".join(
            f"<tr><td>{escape(fmt.when(f.get('created_at')))}</td><td>{_rating(f)}</td>"
            f"<td>{escape(str(f.get('comment') or ''))}</td></tr>"
            for f in feedback
        )
        or '<tr><td colspan="3" class="muted">No feedback for this request.</td></tr>'
    )


def _rating(feedback: dict[str, Any]) -> str:
    """Thumbs (`rating` +-1), a 1-5 `score`, or both: the table row allows either to be null
    (0024_feedback_quality.sql), so neither may be read as the other's default."""
    parts = []
    if feedback.get("rating") in (1, -1):
        parts.append("👍 +1" if feedback["rating"] == 1 else "👎 −1")
    score = feedback.get("score")
    if isinstance(score, int) and not isinstance(score, bool):
        parts.append(f"★ {score} / 5")
    return " · ".join(parts) or "—"
