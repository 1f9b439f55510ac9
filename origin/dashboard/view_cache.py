"""The cache inspector: the project's cached answers, hits by layer per day, purges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from origin.dashboard import charts, fmt
from origin.dashboard.actions import EntryView
from origin.dashboard.layout import hidden_fields, read_only_note
from origin.dashboard.view_overview import LAYERS

SERIES_DAYS = 14


def _ttl(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min {seconds % 60} s"


def _words(text: str | None, n: int = 10) -> str:
    if not text:
        return '<span class="muted">—</span>'
    words = text.split()
    return escape(" ".join(words[:n]) + (" …" if len(words) > n else ""))


def _purge_button(project_id: str, scope: str, target: str, label: str, css: str = "") -> str:
    confirm = (
        " onclick=\"return confirm('Purge every cached answer of this project?')\""
        if scope == "project"
        else ""
    )
    return (
        f'<form method="post" action="/dashboard/cache/purge" style="display:inline">'
        f"{hidden_fields(project_id, scope=scope, target=target)}"
        f'<button type="submit" class="{css}"{confirm}>{label}</button></form>'
    )


def _purge_forms(project_id: str) -> str:
    return f"""<div class="row" style="margin-bottom:12px">
<form method="post" action="/dashboard/cache/purge" class="row" style="flex:3">
{hidden_fields(project_id, scope="tag")}
<div><label for="purge-tag">Purge by tag</label><input id="purge-tag" name="target" placeholder="feature=search"></div>
<button type="submit" class="secondary">Purge tag</button></form>
{_purge_button(project_id, "project", "", "Purge everything", "danger")}</div>"""


def _chart(series: list[dict[str, Any]]) -> str:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=SERIES_DAYS - 1 - i) for i in range(SERIES_DAYS)]
    counts: dict[tuple[str, str], int] = {
        (str(p["day"]), str(p["cache_status"])): int(p["requests"]) for p in series
    }
    totals = {str(d): sum(v for (day, _), v in counts.items() if day == str(d)) for d in days}
    layers = [
        charts.Series(
            label,
            [
                100.0 * counts.get((str(d), key), 0) / totals[str(d)] if totals[str(d)] else 0.0
                for d in days
            ],
        )
        for key, label in LAYERS
    ]
    return charts.bars(
        [d.strftime("%m-%d") for d in days],
        layers,
        title="Share of requests answered from cache per day, by layer (percent)",
        y_label=lambda v: f"{v:.0f}%",
    )


def render(
    entries: list[EntryView],
    stats: dict[str, dict[str, Any]],
    series: list[dict[str, Any]],
    purges: list[dict[str, Any]],
    project_id: str,
    notice: str = "",
    can_manage: bool = True,
) -> str:
    rows = (
        "".join(
            f"<tr><td>{escape(e.model)}</td><td style='white-space:normal;min-width:220px'>{_words(e.question)}</td>"
            f"<td class=num>{fmt.count(stats.get(e.fingerprint, {}).get('hits', 0))}</td>"
            f"<td class=hide-sm>{escape(fmt.when(stats.get(e.fingerprint, {}).get('last_hit'))) or '<span class=muted>never</span>'}</td>"
            f"<td class=num>{_ttl(e.ttl_s)}</td>"
            f"<td class=hide-sm>{escape(', '.join(stats.get(e.fingerprint, {}).get('layers') or ['stored']))}</td>"
            f"<td class='hide-sm wrap'>{fmt.tags(e.tags)}</td>"
            f"<td class=hide-sm title='{escape(e.fingerprint)}'><span class=mono>{escape(e.fingerprint[:10])}…</span></td>"
            f"<td>{_purge_button(project_id, 'key', e.fingerprint, 'Purge', 'secondary') if can_manage else ''}</td></tr>"
            for e in entries
        )
        or '<tr><td colspan="9" class="muted">Nothing cached for this project right now.</td></tr>'
    )
    history = (
        "".join(
            f"<tr><td>{escape(fmt.when(p.get('created_at')))}</td><td>{escape(str(p.get('actor')))}</td>"
            f"<td>{escape(str(p.get('scope')))}</td><td class=mono>{escape(str(p.get('target') or 'everything'))[:40]}</td>"
            f"<td class=num>{fmt.count(p.get('removed'))}</td></tr>"
            for p in purges
        )
        or '<tr><td colspan="5" class="muted">No purges yet.</td></tr>'
    )
    banner = f'<div class="notice">{escape(notice)}</div>' if notice else ""
    return f"""<h1>Cache</h1><p class="sub">Answers cached for this project, newest first. Hits and
last access come from the usage rows of the requests each entry answered.</p>{banner}
<div class="panel"><h2>Hit rate by layer · last {SERIES_DAYS} days</h2>{_chart(series)}</div>
<div class="panel">{_purge_forms(project_id) if can_manage else read_only_note("purge the cache")}
<table><thead><tr><th>Model</th><th>Question</th><th class=num>Hits</th><th class=hide-sm>Last hit</th>
<th class=num>TTL left</th><th class=hide-sm>Served by</th><th class=hide-sm>Tags</th><th class=hide-sm>Entry</th><th></th></tr></thead>
<tbody>{rows}</tbody></table></div>
<div class="panel"><h2>Recent purges</h2><table><thead><tr><th>Time</th><th>Who</th><th>Scope</th>
<th>Target</th><th class=num>Removed</th></tr></thead><tbody>{history}</tbody></table></div>"""
