"""The ledger's memory is bounded and its retries wait out their backoff, even when Supabase
or the disk under the outbox is failing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from infra.local.proc import ROOT
from origin.ledger.writer import Ledger
from origin.settings import Secret
from origin.store import Store
from tests.test_store import usage_row

MAX_QUEUED = 50


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from outbox where parked = 0").fetchone()[0])


async def test_a_burst_spills_to_the_outbox_instead_of_growing_memory(
    silent_url: str, tmp_path: Path
) -> None:
    # Supabase hangs, so nothing leaves; a burst far beyond the bound arrives without a pause.
    store = Store(silent_url, Secret("unused"), timeout_s=60)
    ledger = Ledger(store, tmp_path / "outbox.db", max_queued=MAX_QUEUED, close_timeout_s=0.5)
    await ledger.start()
    try:
        most = 0
        for _ in range(1000):
            ledger.record(usage_row("00000000-0000-0000-0000-000000000001", "o"))
            most = max(most, ledger.queued)
        assert most < MAX_QUEUED
        assert ledger.pending == 1000  # none dropped: the rest are on disk
        assert outbox_rows(ledger.outbox_path) + ledger.queued == 1000
    finally:
        await ledger.aclose()
        await store.aclose()
    assert outbox_rows(ledger.outbox_path) == 1000


# A child process whose files may not grow past a limit: the outbox's disk is "full".
FULL_DISK_CHILD = """
    import asyncio, logging, resource, signal, sys
    from pathlib import Path
    from origin.ledger.writer import Ledger
    from origin.settings import Secret
    from origin.store import Store
    from tests.test_store import usage_row

    failures = []
    class Count(logging.Handler):
        def emit(self, record):
            if "outbox failed" in record.getMessage():
                failures.append(record)
    logging.getLogger("prism.ledger").addHandler(Count())

    async def main():
        store = Store("http://127.0.0.1:9", Secret("unused"))  # never reached
        ledger = Ledger(store, Path(sys.argv[1]), min_backoff_s=0.5, max_backoff_s=0.5,
                        close_timeout_s=0.1)
        await ledger.start()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        for _ in range(2000):
            ledger.record(usage_row("00000000-0000-0000-0000-000000000001", "o"))
        await asyncio.sleep(2.0)
        print(len(failures), ledger.pending, flush=True)

    asyncio.run(main())
"""


def test_a_failing_outbox_is_retried_on_the_backoff_not_in_a_loop(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FULL_DISK_CHILD), str(tmp_path / "outbox.db")],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    failures, pending = (int(n) for n in done.stdout.split())
    # 2 s at a 0.5 s backoff: a handful of attempts. Retrying in a loop makes thousands.
    assert 1 <= failures <= 8
    assert pending == 2000  # kept, not dropped, while the disk refuses them
