"""The local edge host's fetch keeps a response body alive the way workerd does.

Node's fetch cancels a body nobody has started reading once its Response is garbage-collected;
a Worker passing an origin response through keeps only the body, so under load clients got a
200 with an empty body. tests/edge/gc_fetch.mjs forces those collections deterministically."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("edge") / "gc_fetch.mjs"


def test_a_body_passed_on_alone_survives_garbage_collection() -> None:
    done = subprocess.run(
        ["node", "--expose-gc", str(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["whole"] == result["rounds"]
