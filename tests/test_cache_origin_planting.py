"""One caller cannot plant a constrained answer that the cache then serves for the plain request:
a request whose provider call differed (top_k, a vendor extension, the output limit) never
shares a cache entry with it. Real origin, Redis and simulator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_cache_helpers import chat, chat_body, content, wait_cached

PLANTED = "PLANTED: the answer to a constrained request"

CASES = [
    pytest.param({"top_k": 1}, {}, id="top_k"),
    pytest.param({"repetition_penalty": 1.8}, {}, id="vendor-extra"),
    pytest.param({"min_p": 0.9, "top_k": 3}, {"top_k": 3}, id="vendor-extra-beside-top_k"),
    # The limit the provider is sent is max_completion_tokens; max_tokens alone is another call.
    pytest.param(
        {"max_tokens": 1000, "max_completion_tokens": 5}, {"max_tokens": 1000}, id="limit-names"
    ),
    pytest.param(
        {"max_completion_tokens": 1000, "max_tokens": 5},
        {"max_tokens": 5},
        id="limit-names-reversed",
    ),
]


@pytest.mark.parametrize(("planted", "plain"), CASES)
async def test_constrained_answer_is_not_served_for_the_plain_request(
    origin_server: Any, make_project: Any, sim: Any, redis_server: Any, planted: Any, plain: Any
) -> None:
    project = await make_project("planting")
    text = "Which river flows through Vienna?"
    sim.script({"kind": "reply", "text": PLANTED}, provider="openai")
    first = await chat(origin_server, project, chat_body(text, **planted))
    assert first.status_code == 200 and content(first) == PLANTED
    assert len(await wait_cached(redis_server.url, project.id)) == 1  # the plant took root

    second = await chat(origin_server, project, chat_body(text, **plain))
    assert second.status_code == 200, second.text
    assert second.headers["x-prism-cache-status"] == "miss"
    assert content(second) != PLANTED
    sent = [r["body"] for r in sim.requests("openai")]
    assert len(sent) == 2  # the plain request was answered by the provider, not the cache

    again = await chat(origin_server, project, chat_body(text, **planted))
    assert again.headers["x-prism-cache-status"] == "hit-exact"  # the plant itself still hits
