"""The dashboard in a real browser (Debian's Chromium driven by Playwright), against the origin,
Postgres, the PostgREST and Auth stand-ins, Redis and the provider simulator.

One user's day: sign in, send tagged requests with the official openai SDK, find them in the
request log and in the per-feature totals, watch the savings counter rise after a cache hit,
purge the entry and see the next request miss, create and revoke an API key, add a provider
key, sign out. A user of another organisation sees none of it, in the browser and through
PostgREST with their own token. Screenshots of every page at 1280 and 390 px wide land in
.prism/screenshots/."""

from __future__ import annotations

import asyncio
import re
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from infra.local.usage_seed import seed
from origin.dashboard.fmt import money
from shared.apikeys import hash_api_key
from tests.fixtures.members import Member, new_member, signed_in

PAGES = (
    "",
    "/requests",
    "/features",
    "/budgets",
    "/cache",
    "/keys",
    "/providers",
    "/members",
    "/account",
)
WIDTHS = (1280, 390)
SAVED = (
    "SELECT coalesce(sum(cache_saved_cents + native_cache_saved_cents + routing_saved_cents), 0)"
)


async def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def sign_in(context: BrowserContext, base: str, member: Member) -> Page:
    page = await context.new_page()
    await page.goto(f"{base}/dashboard")
    await expect(page).to_have_url(re.compile(r"/dashboard/login"))
    await page.fill("input[name=email]", member.email)
    await page.fill("input[name=password]", member.password)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Overview")
    return page


async def screenshot_all(
    browser: Browser, context: BrowserContext, base: str, project: str, folder: Path
) -> None:
    page = await context.new_page()
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        for path in PAGES:
            await page.goto(f"{base}/dashboard{path}?project={project}")
            name = path.strip("/") or "overview"
            await page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    await page.close()
    login = await browser.new_page(viewport={"width": 390, "height": 800})
    await login.goto(f"{base}/dashboard/login")
    await login.screenshot(path=str(folder / "login-390.png"))
    await login.set_viewport_size({"width": 1280, "height": 800})
    await login.screenshot(path=str(folder / "login-1280.png"))
    await login.close()


@pytest.fixture
async def alpha(pg: Any) -> Member:
    member = await new_member(pg.dsn, "alpha")
    conn = await pg.connect()
    try:  # a month of history, so the charts and tables have something to draw
        await seed(conn, member.org_id, member.project_id, 1500, 30, seed=11)
    finally:
        await conn.close()
    return member


async def test_a_teams_day_in_the_dashboard(
    browser: Browser, origin_server: Any, pg: Any, postgrest: Any, alpha: Member, screenshots: Path
) -> None:
    base, dsn = origin_server.url, pg.dsn
    beta = await new_member(dsn, "beta")
    sdk = openai.AsyncOpenAI(base_url=origin_server.base_url, api_key=alpha.api_key, max_retries=0)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await sign_in(context, base, alpha)
    run = secrets.token_hex(4)

    async def ask(question: str, feature: str) -> Any:
        return await sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            extra_headers={
                "X-Prism-Tags": f"feature={feature}-{run},team=qa",
                "X-Prism-Session": run,
            },
        )

    # Tagged requests through the official SDK show up in the log, filtered by tag.
    first = await ask(f"What is the capital of France? ({run})", "search")
    await ask(f"Name three primary colours ({run})", "search")
    await ask(f"Write a haiku about gateways ({run})", "chat")
    await origin_server.rows(alpha.project_id, expect=1503)
    await page.goto(
        f"{base}/dashboard/requests?project={alpha.project_id}&tag=feature%3Dsearch-{run}"
    )
    table = page.locator("main table tbody tr")
    await expect(table).to_have_count(2)
    await expect(table.first).to_contain_text("gpt-4o-mini")
    request_id = first.headers["x-prism-request-id"]
    async with httpx.AsyncClient(base_url=origin_server.base_url) as http:
        sent = await http.post(
            "/feedback",
            json={"feedback_id": first.headers["x-prism-feedback-id"], "rating": 1, "comment": run},
            headers={"Authorization": f"Bearer {alpha.api_key}"},
        )
        assert sent.status_code < 300, sent.text
    await page.goto(f"{base}/dashboard/requests/{request_id}?project={alpha.project_id}")
    receipt = page.locator("dl.receipt")
    await expect(receipt).to_contain_text(f"{first.headers['x-prism-cost-cents']} ¢")
    await expect(receipt).to_contain_text(request_id)
    await expect(page.locator("tbody tr", has_text=run)).to_contain_text("+1")

    # Per-feature totals: the row for each value, and totals equal to the sum of the rows.
    await page.goto(f"{base}/dashboard/features?project={alpha.project_id}&key=feature")
    search_row = page.locator("tbody tr", has_text=f"search-{run}")
    await expect(search_row.locator("td").nth(1)).to_have_text("2")
    spend = await fetchval(
        dsn,
        "SELECT sum(cost_total_cents) FROM usage_logs WHERE project_id = $1 AND request_tags ? 'feature'"
        " AND created_at >= (now() AT TIME ZONE 'UTC')::date - 29",
        alpha.project_id,
    )
    await expect(page.locator("tfoot td").nth(2)).to_have_text(money(spend))

    # The savings counter rises within seconds of a cache hit, to the SQL sum of the rows.
    await page.goto(f"{base}/dashboard?project={alpha.project_id}")
    counter = page.locator("#savings-total")
    before = Decimal(await counter.get_attribute("data-cents") or "0")
    await asyncio.sleep(0.5)  # the answer is stored in the cache after the response
    hit = await ask(f"What is the capital of France? ({run})", "search")
    assert hit.headers["x-prism-cache-status"] == "hit-exact"
    assert Decimal(hit.headers["x-prism-cache-saved-cents"]) > 0
    await expect(counter).not_to_have_attribute("data-cents", str(before), timeout=10_000)
    shown = Decimal(await counter.get_attribute("data-cents") or "0")
    since = await fetchval(dsn, "SELECT public.dash_period_start(30)")
    in_sql = await fetchval(
        dsn,
        f"{SAVED} FROM usage_logs WHERE project_id = $1 AND created_at >= $2",
        alpha.project_id,
        since,
    )
    assert shown == in_sql and shown > before
    await expect(counter).to_have_text(money(in_sql))

    # The cache inspector lists the entry; purging it makes the next identical request miss.
    await page.goto(f"{base}/dashboard/cache?project={alpha.project_id}")
    entry = page.locator("tbody tr", has_text=f"capital of France? ({run})")
    await expect(entry.locator("td").nth(2)).to_have_text("1")  # one hit so far
    await entry.locator("button", has_text="Purge").click()
    await expect(page.locator(".notice")).to_have_text("Purged 1 cached answer.")
    actor = await fetchval(
        dsn,
        "SELECT actor FROM cache_purges WHERE project_id = $1 ORDER BY created_at DESC LIMIT 1",
        alpha.project_id,
    )
    assert actor == f"user:{alpha.email}"
    again = await ask(f"What is the capital of France? ({run})", "search")
    assert again.headers["x-prism-cache-status"] == "miss"

    # An API key is shown once at creation, works, and is revoked from the page.
    await page.goto(f"{base}/dashboard/keys?project={alpha.project_id}")
    await page.fill("input[name=name]", f"ci-{run}")
    await page.click("button:has-text('Create key')")
    new_key = (await page.locator("#new-key").text_content() or "").strip()
    assert new_key.startswith("prism_sk_")
    fresh = openai.AsyncOpenAI(base_url=origin_server.base_url, api_key=new_key, max_retries=0)
    assert (await fresh.models.list()).data
    await page.reload()
    assert new_key not in await page.content()
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.locator("tr", has_text=f"ci-{run}").locator("button", has_text="Revoke").click()
    await expect(page.locator("tr", has_text=f"ci-{run}")).to_contain_text("revoked")
    live = await fetchval(
        dsn, "SELECT count(*) FROM public.resolve_api_key($1)", hash_api_key(new_key)
    )
    assert live == 0

    # A provider key goes in; only its name and last four characters come back.
    provider_secret = f"sk-live-{secrets.token_hex(12)}WXYZ"
    await page.goto(f"{base}/dashboard/providers?project={alpha.project_id}")
    await page.select_option("select[name=provider]", "openai")
    await page.fill("input[name=name]", f"openai-{run}")
    await page.fill("input[name=api_key]", provider_secret)
    await page.click("button:has-text('Add key')")
    await expect(page.locator("tr", has_text=f"openai-{run}")).to_contain_text("••••WXYZ")
    assert provider_secret not in await page.content()

    # A warn budget goes in, and its row shows the spend of this month against it.
    await page.goto(f"{base}/dashboard/budgets?project={alpha.project_id}")
    await page.fill("input[name=limit_dollars]", "1,000")
    await page.select_option("select[name=action]", "warn")
    await page.fill("input[name=tag]", f"feature=ci-{run}")
    await page.click("button:has-text('Add budget')")
    budget_row = page.locator("tbody").first.locator("tr", has_text=f"feature=ci-{run}")
    await expect(budget_row).to_contain_text("$1,000.00")
    await expect(page.locator("tr", has_text="budget added")).to_contain_text(alpha.email)

    await screenshot_all(browser, context, base, alpha.project_id, screenshots)

    # The Account page changes the password, and the browser stays signed in.
    await page.goto(f"{base}/dashboard?project={alpha.project_id}")
    await page.click("nav.tabs a:has-text('Account')")
    await expect(page.locator("#account-email")).to_have_text(alpha.email)
    await page.fill("input[name=current_password]", alpha.password)
    for field in ("new_password", "new_password_again"):
        await page.fill(f"input[name={field}]", f"{alpha.password}-new")
    await page.click("button:has-text('Change password')")
    await expect(page.locator(".notice")).to_contain_text("Your password was changed.")

    # Signing out ends the session: the dashboard sends the browser back to the login page.
    await page.goto(f"{base}/dashboard?project={alpha.project_id}")
    await page.click("button:has-text('Sign out')")
    await expect(page).to_have_url(re.compile(r"/dashboard/login"))
    await page.goto(f"{base}/dashboard/requests")
    await expect(page).to_have_url(re.compile(r"/dashboard/login"))
    await context.close()

    # Another organisation's user sees none of it: in the browser...
    other = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await sign_in(other, base, beta)
    await expect(page.locator("#savings-total")).to_have_text("$0.00")
    for path in PAGES:
        await page.goto(f"{base}/dashboard{path}?project={alpha.project_id}")
        html = await page.content()
        assert alpha.project_id not in html and run not in html and "••••WXYZ" not in html, path
    await page.goto(f"{base}/dashboard/requests/{request_id}?project={alpha.project_id}")
    await expect(page.locator("h1")).to_have_text("No such request in this project")
    await other.close()
    # ... and through PostgREST with their own token.
    async with signed_in(postgrest, beta) as client:
        for table in (
            "usage_logs",
            "feedback",
            "cache_purges",
            "usage_hourly",
            "usage_tag_daily",
            "usage_latency_daily",
        ):
            rows = (await client.table(table).select("project_id").execute()).data
            assert {r["project_id"] for r in rows} <= {beta.project_id}, table
        stolen = await client.rpc(
            "dash_savings", {"p_project": alpha.project_id, "p_since": str(since)}
        ).execute()
        assert stolen.data["total_cents"] == "0"
