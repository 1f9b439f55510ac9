"""A provider answer too large to hold (plain or a gzip bomb) is a clean 502, not a memory
blow-up: the origin reads at most PRISM_MAX_RESPONSE_BYTES of it, decompressed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.origin import OriginHandle, start_origin

CAP = 1024 * 1024
HUGE = 128 * 1024 * 1024


@pytest.fixture(scope="module")
def capped_origin(
    origin_env: dict[str, str], pg: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginHandle]:
    env = {
        **origin_env,
        "PRISM_MAX_RESPONSE_BYTES": str(CAP),
        "PRISM_DATA_DIR": str(tmp_path_factory.mktemp("capped-origin-data")),
    }
    service = start_origin(env, tmp_path_factory.mktemp("capped-origin"))
    try:
        yield OriginHandle(service, env, pg.dsn)
    finally:
        service.stop()


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def ask(origin: OriginHandle, key: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{origin.base_url}/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
        headers={"Authorization": f"Bearer {key}", "X-Prism-Cache": "no-store"},
        timeout=60,
    )


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip-bomb"])
async def test_an_oversized_answer_is_a_clean_502_without_holding_it(
    capped_origin: OriginHandle, make_project: Any, sim: Any, gzip: bool
) -> None:
    project = await make_project("limits")
    pid = capped_origin.service.proc.pid  # type: ignore[union-attr]
    sim.script({"kind": "huge_body", "bytes": HUGE, "gzip": gzip}, times=10)  # every failover
    before = peak_rss_bytes(pid)
    res = ask(capped_origin, project.api_key, "tell me everything")
    assert res.status_code == 502, res.text[:300]
    error = res.json()["error"]
    assert "too large" in error["message"] and error["type"]
    # Never held: the peak memory grew by far less than the answer's size.
    assert peak_rss_bytes(pid) - before < HUGE // 4
    sim.reset()
    assert ask(capped_origin, project.api_key, "and now briefly").status_code == 200
    rows = await capped_origin.rows(project.id, expect=2)
    assert [r["success"] for r in rows] == [False, True]
