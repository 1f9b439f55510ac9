"""The Features table as a CSV download: what each feature cost, in cents exactly as the ledger
has it, with the untagged requests and the total as rows, and no tag value a spreadsheet would
run as a formula. Over HTTP against the served origin, as a signed-in member."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.fixtures.members import Member, insert_rows, new_member
from tests.test_dashboard_features_untagged import _row
from tests.test_dashboard_http import signed_in_browser

FORMULA = '=HYPERLINK("https://evil.example","x")'


@pytest.fixture(scope="module")
async def member(pg: Any) -> Member:
    me = await new_member(pg.dsn, "features-csv")
    rows = [
        _row(me, 1, {"feature": "search"}),
        _row(me, 2, {"feature": "search"}),
        _row(me, 3, {"feature": FORMULA}),
        _row(me, 4, None),
    ]
    await insert_rows(pg, rows)
    return me


async def test_the_download_is_the_table_in_exact_cents(
    origin_server: Any, pg_conn: asyncpg.Connection, member: Member
) -> None:
    today = str(datetime.now(UTC).date())
    params = {"project": member.project_id, "key": "feature", "from": today, "to": today}
    async for http in signed_in_browser(origin_server.url, member):
        page = await http.get("/dashboard/features", params=params)
        response = await http.get("/dashboard/features.csv", params=params)
    assert "/dashboard/features.csv?" in page.text  # the page links its own download
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="prism-features-feature-{today}-{today}.csv"'
    )
    table = list(csv.DictReader(io.StringIO(response.text)))
    by_value = {r["feature"]: r for r in table}
    assert set(by_value) == {"search", "'" + FORMULA, "(no feature tag)", "(total)"}
    ledger = {
        r["tag"]: r
        for r in await pg_conn.fetch(
            "SELECT coalesce(request_tags->>'feature', '(no feature tag)') AS tag,"
            " count(*) AS requests, sum(cost_total_cents) AS spend"
            " FROM usage_logs WHERE project_id = $1 GROUP BY 1",
            member.project_id,
        )
    }
    assert by_value["search"]["requests"] == "2"
    assert Decimal(by_value["search"]["spend_cents"]) == ledger["search"]["spend"]
    assert Decimal(by_value["'" + FORMULA]["spend_cents"]) == ledger[FORMULA]["spend"]
    total = by_value["(total)"]
    assert total["requests"] == "4"
    assert Decimal(total["spend_cents"]) == sum(r["spend"] for r in ledger.values())
    assert all(r["from"] == r["to"] == today for r in table)


async def test_another_organisations_project_is_not_downloadable(
    origin_server: Any, pg: Any, member: Member
) -> None:
    stranger = await new_member(pg.dsn, "features-csv-stranger")
    async for http in signed_in_browser(origin_server.url, stranger):
        response = await http.get(
            "/dashboard/features.csv", params={"project": member.project_id, "key": "feature"}
        )
    # The project is not theirs: they get their own (empty) table, never the member's.
    assert response.status_code == 200 and "search" not in response.text
    assert response.text.splitlines()[-1].startswith("(total),") and ",0," in response.text
