"""Spend by feature: one row per value of a tag key over whole UTC days, totals that are the
sums of the rows, and daily spend of the biggest values."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from typing import Any

from origin.dashboard import charts, fmt
from origin.dashboard.layout import href

DEFAULT_DAYS = 30
MAX_DAYS = 366


def period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    try:
        last = date.fromisoformat(end) if end else today
    except ValueError:
        last = today
    try:
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    return max(first, last - timedelta(days=MAX_DAYS - 1)), last


def _row(cells: dict[str, Any], label: str) -> str:
    return (
        f"<td>{label}</td><td class=num>{fmt.count(cells.get('requests'))}</td>"
        f"<td class=num>{fmt.money(cells.get('spend_cents'))}</td>"
        f"<td class=num>{fmt.money(cells.get('cache_saved_cents'))}</td>"
        f"<td class=num>{fmt.money(cells.get('native_saved_cents'))}</td>"
        f"<td class='num hide-sm'>{fmt.money(cells.get('routing_saved_cents'))}</td>"
        f"<td class='num hide-sm'>{fmt.ms(cells.get('avg_latency_ms'))}</td>"
    )


def _value_link(key: str, row: dict[str, Any], project_id: str) -> str:
    if row.get("value") is None:  # the requests without this key: no tag filter finds them
        return f'<span class="muted">(no {escape(key)} tag)</span>'
    value = str(row["value"])
    link = href("/requests", project_id, tag=f"{key}={value}")
    return f'<a href="{escape(link)}">{escape(value)}</a>'


def _chart(series: list[dict[str, Any]], first: date, last: date) -> str:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    by_value: dict[str, dict[str, float]] = {}
    for point in series:
        by_value.setdefault(str(point["value"]), {})[str(point["day"])] = float(
            fmt.cents(point["spend_cents"])
        )
    lines = [
        charts.Series(value, [spend.get(str(d), 0.0) for d in days])
        for value, spend in by_value.items()
    ]
    return charts.bars(
        [d.strftime("%m-%d") for d in days],
        lines,
        title="Daily spend by tag value (US dollars)",
        y_label=charts.dollars_axis,
    )


def render(
    data: dict[str, Any], keys: list[str], key: str, first: date, last: date, project_id: str
) -> str:
    options = "".join(
        f'<option value="{escape(k)}"{" selected" if k == key else ""}>{escape(k)}</option>'
        for k in (keys or [key])
    )
    rows = data.get("rows") or []
    body = (
        "".join(f"<tr>{_row(r, _value_link(key, r, project_id))}</tr>" for r in rows)
        or '<tr><td colspan="7" class="muted">No tagged requests in this period.</td></tr>'
    )
    totals = data.get("totals") or {}
    download = href("/features.csv", project_id, key=key, **{"from": str(first), "to": str(last)})
    form = f"""<form class="filters panel" method="get" action="/dashboard/features">
<input type="hidden" name="project" value="{escape(project_id)}">
<div><label for="key">Tag key</label><select id="key" name="key">{options}</select></div>
<div><label for="from">From</label><input id="from" type="date" name="from" value="{first}"></div>
<div><label for="to">To</label><input id="to" type="date" name="to" value="{last}"></div>
<div class="row"><button type="submit">Show</button>
<a class="button secondary" href="{escape(download)}" download>Download CSV</a></div></form>"""
    return f"""<h1>Features</h1><p class="sub">Requests grouped by the value of the
<b>{escape(key)}</b> tag, {first} to {last} (whole UTC days). A request with several tags counts once
under each key; requests without this key are one row, so the total is every request.</p>{form}
<div class="panel"><h2>Daily spend · top values</h2>{_chart(data.get("series") or [], first, last)}</div>
<div class="panel"><table><thead><tr><th>{escape(key)}</th><th class=num>Requests</th>
<th class=num>Spend</th><th class=num>Cache saved</th><th class=num>Provider cache saved</th>
<th class='num hide-sm'>Routing saved</th><th class='num hide-sm'>Avg latency</th></tr></thead>
<tbody>{body}</tbody><tfoot><tr>{_row(totals, "Total")}</tr></tfoot></table></div>"""
