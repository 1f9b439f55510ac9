"""Per-mode output caps: a request without max_tokens is sent upstream with its mode's cap."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from shared.options import OUTPUT_CAPS

HELLO = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.mark.parametrize(
    ("mode", "extra", "sent"),
    [
        ("eco", {}, OUTPUT_CAPS["eco"]),
        ("balanced", {}, OUTPUT_CAPS["balanced"]),
        ("sport", {}, OUTPUT_CAPS["sport"]),
        ("eco", {"max_tokens": 77}, 77),  # the client's own cap always wins
    ],
)
async def test_the_mode_caps_output_when_the_client_did_not(
    origin_server: Any, make_project: Any, sim: Any, mode: str, extra: dict[str, Any], sent: int
) -> None:
    project = await make_project("caps")
    client = openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        extra_headers={"X-Prism-Mode": mode, "X-Prism-Cache": "no-store", "X-Prism-Hedge": "off"},
        **extra,
    )
    (call,) = sim.requests("openai")
    assert call["body"].get("max_tokens", call["body"].get("max_completion_tokens")) == sent
