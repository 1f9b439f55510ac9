"""A worker that serves only the API does not load the dashboard's Supabase client: supabase-py
with its auth, realtime and storage clients added 6.6 MB to every worker's memory at start-up
(importing origin.app, measured), and it is loaded when the dashboard is first used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDK = ("supabase", "supabase_auth", "realtime", "storage3", "supabase_functions")

PROBE = f"""
import sys
import origin.app
from origin.dashboard.supa import Supa
from origin.settings import Secret
supa = Supa("http://127.0.0.1:9", Secret("anon"))  # what build_dashboard makes at start-up
print([m for m in {SDK!r} if m in sys.modules])
supa.as_user("token")  # the dashboard's first request
print([m for m in {SDK!r} if m in sys.modules])
"""


def test_the_dashboard_client_loads_only_when_used() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    before, after = out.stdout.splitlines()
    assert before == "[]"
    assert "'supabase'" in after and "'supabase_auth'" in after
