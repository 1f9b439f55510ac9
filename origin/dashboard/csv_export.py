"""The Features table as a CSV file for a spreadsheet or the finance team: every money column in
cents exactly as the ledger sums it (micro-cents kept, nothing rounded), one row per tag value,
the requests without the key as a row of their own, and the total last.

Tag values come from clients (X-Prism-Tags), so a cell a spreadsheet would read as a formula
(starting with =, +, -, @, a tab or a carriage return) is written with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

COLUMNS = (
    ("requests", "requests"),
    ("spend_cents", "spend_cents"),
    ("cache_saved_cents", "cache_saved_cents"),
    ("native_saved_cents", "provider_cache_saved_cents"),
    ("routing_saved_cents", "routing_saved_cents"),
    ("avg_latency_ms", "avg_latency_ms"),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def features_csv(data: dict[str, Any], key: str, first: date, last: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_cell(key), "from", "to", *(name for _, name in COLUMNS)])
    for row in data.get("rows") or []:
        value = row.get("value")
        label = f"(no {key} tag)" if value is None else value
        writer.writerow([_cell(label), first, last, *(_cell(row.get(f)) for f, _ in COLUMNS)])
    totals = data.get("totals") or {}
    writer.writerow(["(total)", first, last, *(_cell(totals.get(f)) for f, _ in COLUMNS)])
    return out.getvalue()


def filename(key: str, first: date, last: date) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:40] or "tag"
    return f"prism-features-{safe}-{first}-{last}.csv"
