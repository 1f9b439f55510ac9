"""The overview page: spend, requests, cache hit rate by layer, latency, the live savings
counter and spend over the last 30 days."""

from __future__ import annotations

from html import escape
from typing import Any

from origin.dashboard import charts, fmt
from origin.dashboard.layout import href

SAVINGS_DAYS = 30  # dash_overview's savings_30d
LAYERS = (
    ("hit-exact", "Exact (origin)"),
    ("hit-exact-edge", "Exact (edge)"),
    ("hit-semantic", "Semantic (origin)"),
    ("hit-semantic-edge", "Semantic (edge)"),
)


def _card(label: str, value: str, hint: str = "", extra: str = "") -> str:
    hint_html = f'<div class="hint">{hint}</div>' if hint else ""
    return (
        f'<div class="card{extra}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div>{hint_html}</div>'
    )


def savings_card(savings: dict[str, Any], project_id: str) -> str:
    # The card counts 30 days: the live counter is asked for a window that rolls at midnight
    # UTC, not for the moment this page's window began.
    live = escape(href("/live/savings", project_id, days=str(SAVINGS_DAYS)))
    parts = (
        f"exact {fmt.money(savings.get('cache_exact_cents'))} · semantic "
        f"{fmt.money(savings.get('cache_semantic_cents'))} · provider cache "
        f"{fmt.money(savings.get('native_cents'))} · routing {fmt.money(savings.get('routing_cents'))}"
    )
    return (
        f'<div class="card savings" id="savings" data-live="{live}">'
        '<div class="label">What Prism saved you · 30 days</div>'
        f'<div class="value" id="savings-total" data-cents="{escape(str(savings.get("total_cents")))}">'
        f"{fmt.money(savings.get('total_cents'))}</div>"
        f'<div class="hint" id="savings-parts">{escape(parts)}</div></div>'
    )


LIVE_SCRIPT = """<script>
(function(){var card=document.getElementById('savings');if(!card||!window.EventSource)return;
var source=new EventSource(card.dataset.live);
source.addEventListener('savings',function(e){var d=JSON.parse(e.data);
var total=document.getElementById('savings-total');total.textContent=d.total;
total.dataset.cents=d.total_cents;document.getElementById('savings-parts').textContent=d.parts;});
})();</script>"""


def render(data: dict[str, Any], project_id: str) -> str:
    totals = data.get("totals") or {}
    statuses: dict[str, int] = data.get("by_cache_status") or {}
    requests_30d = sum(int(v) for v in statuses.values())
    latency = data.get("latency_7d") or {}
    cards = "".join(
        [
            savings_card(data.get("savings_30d") or {}, project_id),
            _card("Spend today", fmt.money(totals.get("spend_today")), "UTC day so far"),
            _card("Spend · 7 days", fmt.money(totals.get("spend_7d"))),
            _card("Spend · 30 days", fmt.money(totals.get("spend_30d"))),
            _card(
                "Requests · 30 days",
                fmt.count(totals.get("requests_30d")),
                f"today {fmt.count(totals.get('requests_today'))} · 7 d "
                f"{fmt.count(totals.get('requests_7d'))} · errors "
                f"{fmt.count(totals.get('errors_30d'))}",
            ),
            _card(
                "Latency · 7 days",
                f"{fmt.ms(latency.get('p50'))}",
                f"p50 · p95 {fmt.ms(latency.get('p95'))}",
            ),
        ]
    )
    hits = sum(int(statuses.get(k, 0)) for k, _ in LAYERS)
    layer_rows = "".join(
        f"<tr><td>{escape(label)}</td><td class=num>{fmt.count(statuses.get(key, 0))}</td>"
        f"<td class=num>{fmt.percent(int(statuses.get(key, 0)), requests_30d)}</td></tr>"
        for key, label in LAYERS
    )
    series = data.get("series") or []
    labels = [str(p["day"])[5:] for p in series]
    spend_chart = charts.lines(
        labels,
        [charts.Series("Spend", [float(fmt.cents(p["spend_cents"])) for p in series])],
        title="Spend per day, last 30 days (US dollars)",
        y_label=charts.dollars_axis,
    )
    return f"""<h1>Overview</h1><p class="sub">All times UTC. Money is what providers billed, to the
micro-cent, from each request's usage row.</p>
<div class="cards">{cards}</div>
<div class="panel"><h2>Spend per day · last 30 days</h2>{spend_chart}</div>
<div class="panel"><h2>Cache hit rate by layer · 30 days</h2>
<table><thead><tr><th>Layer</th><th class=num>Hits</th><th class=num>Share of requests</th></tr>
</thead><tbody>{layer_rows}</tbody><tfoot><tr><td>All layers</td><td class=num>{fmt.count(hits)}
</td><td class=num>{fmt.percent(hits, requests_30d)}</td></tr></tfoot></table></div>{LIVE_SCRIPT}"""
