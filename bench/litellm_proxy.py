"""LiteLLM's proxy as the benchmark's reference gateway, in front of the same simulator.

Installed once into its own venv by setup_litellm.sh; started with a generated config that
maps one model to the simulator's OpenAI-compatible base URL, with no database, the local
model-cost map (so it never reaches for the network) and telemetry off.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.local.proc import ROOT, Service, free_port

SETUP_SCRIPT = Path(__file__).resolve().parent / "setup_litellm.sh"
DEFAULT_VENV = ROOT / ".prism" / "bench" / "litellm-venv"
INSTALL_TIMEOUT_S = 1200
START_TIMEOUT_S = 120
# The simulator checks only that some bearer key is present.
UPSTREAM_KEY = "sk-bench-litellm"


class LiteLLMUnavailable(RuntimeError):
    """LiteLLM could not be installed or started; the message says why."""


@dataclass(frozen=True)
class LiteLLM:
    url: str
    version: str
    pid: int
    master_key: str  # clients send it as a bearer token, as they would in production


def install(venv: Path = DEFAULT_VENV) -> Path:
    """The venv's litellm entry point, installing it first when the stamp is missing."""
    try:
        done = subprocess.run(
            ["bash", str(SETUP_SCRIPT), str(venv)],
            check=False,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise LiteLLMUnavailable(f"installing took over {INSTALL_TIMEOUT_S}s") from None
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
        raise LiteLLMUnavailable(
            "install failed: " + (" | ".join(errors[-2:]) or done.stderr.strip()[-300:])
        )
    return venv / "bin" / "litellm"


def write_config(path: Path, model: str, simulator_url: str, master_key: str) -> None:
    # JSON is valid YAML, and this way no YAML writer is needed on our side.
    config = {
        "model_list": [
            {
                "model_name": model,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": f"{simulator_url}/p/openai/v1",
                    "api_key": UPSTREAM_KEY,
                },
            }
        ],
        "litellm_settings": {"telemetry": False, "set_verbose": False},
        # LiteLLM refuses to start without one; with it, it authenticates like the origin does.
        "general_settings": {"master_key": master_key},
    }
    path.write_text(json.dumps(config, indent=2))


def start(
    stack: ExitStack, work_dir: Path, model: str, simulator_url: str, venv: Path = DEFAULT_VENV
) -> LiteLLM:
    """Install (once) and start one LiteLLM worker; its stop is pushed onto `stack`."""
    binary = install(venv)
    config = work_dir / "litellm.yaml"
    master_key = f"sk-{secrets.token_hex(24)}"
    write_config(config, model, simulator_url, master_key)
    port = free_port()
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY_DISABLED": "true",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        # Service puts the repo on PYTHONPATH; LiteLLM must not see our packages.
        "PYTHONPATH": "",
    }
    argv = [
        str(binary),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    service = Service("litellm", argv, port, env=env, log_path=work_dir / "logs" / "litellm.log")
    stack.callback(service.stop)
    try:
        service.start(START_TIMEOUT_S)
        wait_healthy(service.url)
    except (RuntimeError, TimeoutError) as exc:
        raise LiteLLMUnavailable(f"did not start: {exc} (see {service.log_path})") from None
    assert service.proc is not None
    return LiteLLM(service.url, version(venv), service.proc.pid, master_key)


def wait_healthy(url: str, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # listening but not serving yet: the loop's deadline bounds the wait
        time.sleep(0.2)
    raise TimeoutError(f"/health/liveliness never answered 200 within {timeout_s:g}s")


def version(venv: Path) -> str:
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() or "unknown"
