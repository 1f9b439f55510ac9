"""Cost through the whole origin equals hand-computed values, streamed or not, cached or not.

The simulator reports exactly the provider-native usage block each row scripts; the expected
cents are worked out by hand from shared/catalog.py prices (USD per million tokens) as
cents = tokens x price / 10,000.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest

CASES = [
    # gpt-4o-mini: input 0.15, cached 0.075, output 0.60.
    # 1000 prompt (400 cached) + 200 out: 600x0.15 + 400x0.075 + 200x0.60 = 90+30+120 = 240
    # -> 0.024 cents; saved 400 x (0.15-0.075) = 30 -> 0.003 cents.
    pytest.param(
        "gpt-4o-mini",
        "openai",
        {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "total_tokens": 1200,
            "prompt_tokens_details": {"cached_tokens": 400},
        },
        "0.024",
        "0.003",
        id="openai-cached",
    ),
    # 1000 prompt + 200 out: 1000x0.15 + 200x0.60 = 150+120 = 270 -> 0.027; saved 0.
    pytest.param(
        "gpt-4o-mini",
        "openai",
        {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        "0.027",
        "0",
        id="openai-uncached",
    ),
    # claude-sonnet-4-6: input 3, output 15, read 0.30, write5m 3.75, write1h 6.
    # input_tokens 100 (excludes cache), write 5m 2000, read 1000, out 50:
    # 100x3 + 2000x3.75 + 1000x0.30 + 50x15 = 300+7500+300+750 = 8850 -> 0.885 cents;
    # saved 1000 x (3-0.30) = 2700 -> 0.27 cents.
    pytest.param(
        "claude-sonnet-4-6",
        "anthropic",
        {
            "input_tokens": 100,
            "output_tokens": 50,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 1000,
            "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
        },
        "0.885",
        "0.27",
        id="anthropic-write5m-read",
    ),
    # 1h write: 10x3 + 1000x6 + 20x15 = 30+6000+300 = 6330 -> 0.633; saved 0.
    pytest.param(
        "claude-sonnet-4-6",
        "anthropic",
        {
            "input_tokens": 10,
            "output_tokens": 20,
            "cache_creation_input_tokens": 1000,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1000},
        },
        "0.633",
        "0",
        id="anthropic-write1h",
    ),
    # gemini-2.5-flash: input 0.30, cached 0.03, output 2.50.
    # 2000 prompt (1024 cached) + 100 out: 976x0.30 + 1024x0.03 + 100x2.50
    # = 292.8+30.72+250 = 573.52 -> 0.057352; saved 1024 x 0.27 = 276.48 -> 0.027648.
    pytest.param(
        "gemini-2.5-flash",
        "gemini",
        {
            "promptTokenCount": 2000,
            "candidatesTokenCount": 100,
            "totalTokenCount": 2100,
            "cachedContentTokenCount": 1024,
        },
        "0.057352",
        "0.027648",
        id="gemini-cached",
    ),
    # groq llama-3.1-8b-instant: input 0.05, output 0.08. 3000 + 1000: 150+80=230 -> 0.023.
    pytest.param(
        "groq-llama-8b",
        "groq",
        {"prompt_tokens": 3000, "completion_tokens": 1000, "total_tokens": 4000},
        "0.023",
        "0",
        id="openai-compatible",
    ),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model,provider,usage,cents,saved", CASES)
async def test_cost_matches_hand_computed(
    origin_server, make_project, sim, model, provider, usage, cents, saved, stream
):
    project = await make_project("costs")
    sim.script({"kind": "usage", "usage": usage}, provider=provider)
    client = openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)
    messages = [{"role": "user", "content": "price this"}]
    if stream:
        with client.chat.completions.with_streaming_response.create(
            model=model, messages=messages, stream=True, extra_headers={"X-Prism-Cache": "no-store"}
        ) as response:
            for _ in response.iter_lines():
                pass
    else:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=messages, extra_headers={"X-Prism-Cache": "no-store"}
        )
        assert raw.headers["x-prism-cost-cents"] == cents
        assert raw.headers["x-prism-native-cache-saved-cents"] == saved
    rows = await origin_server.rows(project.id, expect=1)
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    assert row["cost_total_cents"] == Decimal(cents)
    assert row["cost_provider_cents"] == Decimal(cents)
    assert row["native_cache_saved_cents"] == Decimal(saved)
    assert row["usage_reported"] is True and row["was_streaming"] is stream


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_missing_usage_is_flagged_not_zero(origin_server, make_project, sim, stream):
    project = await make_project("no-usage")
    sim.script({"kind": "no_usage"}, provider="groq")
    client = openai.OpenAI(base_url=origin_server.base_url, api_key=project.api_key, max_retries=0)
    kwargs: dict[str, Any] = {
        "model": "groq-llama-8b",
        "stream": stream,
        "messages": [{"role": "user", "content": "no usage please"}],
    }
    if stream:
        for _ in client.chat.completions.create(**kwargs):
            pass
    else:
        raw = client.chat.completions.with_raw_response.create(**kwargs)
        assert raw.headers["x-prism-usage-reported"] == "false"
    rows = await origin_server.rows(project.id, expect=1)
    assert len(rows) == 1 and rows[0]["usage_reported"] is False
    assert rows[0]["success"] is True and rows[0]["tokens_in"] == 0
