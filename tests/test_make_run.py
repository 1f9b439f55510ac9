"""`make run` from this checkout: the stack comes up, and the openai SDK with the demo key
gets a chat completion from the simulator, through the origin and through the edge."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import openai

from infra.local.lifeline import lifeline
from infra.local.proc import ROOT, free_port, wait_for_port
from shared.apikeys import generate_api_key

PORT_VARS = (
    "PRISM_PG_PORT",
    "PRISM_REST_PORT",
    "PRISM_REDIS_PORT",
    "PRISM_UPSTASH_REDIS_PORT",
    "PRISM_UPSTASH_VECTOR_PORT",
    "PRISM_SIMULATOR_PORT",
    "PRISM_PORT",
    "PRISM_EDGE_PORT",
)


def test_make_run_serves_the_openai_sdk(tmp_path: Path) -> None:
    ports = {name: str(free_port()) for name in PORT_VARS}
    key = generate_api_key()
    provider_vars = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY")
    env = {k: v for k, v in os.environ.items() if k not in provider_vars}
    email, password = "team@example.test", "correct horse battery"
    admin_token = "admin-" + generate_api_key()[-16:]
    env.update(
        ports,
        PRISM_DATA_DIR=str(tmp_path / "data"),
        PRISM_DEV_API_KEY=key,
        PRISM_DEV_DASHBOARD_EMAIL=email,
        PRISM_DEV_DASHBOARD_PASSWORD=password,
        PRISM_ADMIN_TOKEN=admin_token,
    )
    log = open(tmp_path / "make-run.log", "w+b")
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lifeline().guard_group(proc.pid, signal.SIGINT)  # a killed test run stops it too
    try:
        wait_for_port(int(ports["PRISM_EDGE_PORT"]), timeout=240, proc=proc)
        for port in (ports["PRISM_PORT"], ports["PRISM_EDGE_PORT"]):
            client = openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=2
            )
            completion = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello, make run"}]
            )
            assert completion.choices[0].message.content.startswith("Simulated")
        output = _read(log)
        assert key in output and "provider simulator" in output
        # Every credential a newcomer needs, the chosen admin token among them, and it works.
        assert admin_token in output and "PRISM_ENV_FILE=" in output
        admin = httpx.get(
            f"http://127.0.0.1:{ports['PRISM_PORT']}/admin/v1/projects",
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert admin.status_code == 200
        assert f"http://127.0.0.1:{ports['PRISM_PORT']}/v1" in output
        dashboard = f"http://127.0.0.1:{ports['PRISM_PORT']}/dashboard"
        assert dashboard in output and f"{email} / {password}" in output
        # The printed credentials sign in, and the demo project's traffic is on the overview.
        site = dashboard.removesuffix("/dashboard")
        with httpx.Client(base_url=site, headers={"Origin": site}) as browser:
            signed = browser.post("/dashboard/login", data={"email": email, "password": password})
            assert signed.status_code == 303 and signed.headers["location"] == "/dashboard"
            overview = browser.get("/dashboard")
            assert overview.status_code == 200 and ">demo</option>" in overview.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        lifeline().release_group(proc.pid)
    assert "stopped everything" in _read(log)


def _read(log: object) -> str:
    time.sleep(0.2)
    return Path(log.name).read_text(errors="replace")  # type: ignore[attr-defined]
