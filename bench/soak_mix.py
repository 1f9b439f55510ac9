"""The soak run's request mix (bench/soak.py) and its rendering as a Lua table for wrk."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

CHAT = "/v1/chat/completions"
HIT_PROMPTS = 40
# (kind, slots of the 2,000-request schedule). Bad keys are 1%: past the origin's allowance
# (20 a minute per address) they are answered 429, while the good key keeps working.
MIX = (
    ("miss", 400),
    ("miss-auto", 100),
    ("hit", 600),
    ("stream-miss", 200),
    ("stream-hit", 200),
    ("bypass", 300),
    ("bad-body", 61),
    ("unknown-model", 70),
    ("bad-header", 49),
    ("bad-key", 20),
)
SCHEDULE_SLOTS = sum(slots for _, slots in MIX)


def chat_body(
    content: str, model: str = "gpt-4o-mini", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **(extra or {})}


def hit_prompt(i: int) -> str:
    return f"Soak question number {i}: what is a good name for a cat?"


def specs(api_key: str) -> dict[str, dict[str, Any]]:
    """One request shape per kind of MIX. "unique" ones carry SEQ where wrk puts a new value."""
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    stream = {"stream": True, "stream_options": {"include_usage": True}}
    seq = "@@SEQ@@"
    return {
        "miss": {"headers": auth, "body": chat_body(f"Tell me something new, {seq}")},
        "miss-auto": {"headers": auth, "body": chat_body(f"Write a haiku about {seq}", "auto")},
        "hit": {"headers": auth, "body": [chat_body(hit_prompt(i)) for i in range(HIT_PROMPTS)]},
        "stream-miss": {"headers": auth, "body": chat_body(f"Stream a story {seq}", extra=stream)},
        "stream-hit": {"headers": auth, "body": chat_body(hit_prompt(0), extra=stream)},
        "bypass": {"headers": {**auth, "X-Prism-Cache": "no-store"}, "body": chat_body("Say hi.")},
        "bad-body": {"headers": auth, "body": {"model": "gpt-4o-mini", "messages": "nope"}},
        "unknown-model": {"headers": auth, "body": chat_body("Hello", "no-such-model-x")},
        "bad-header": {"headers": {**auth, "X-Prism-Mode": "turbo"}, "body": chat_body("Hello")},
        "bad-key": {
            "headers": {**auth, "Authorization": "Bearer prism_sk_not_a_real_key"},
            "body": chat_body("Hello"),
        },
    }


def _lua_string(text: str) -> str:
    level = "="
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def write_lua_data(path: Path, api_key: str, seed: int = 13) -> None:
    """The specs and a shuffled schedule (MIX's slots) as a Lua table for wrk."""
    entries: list[str] = []
    index: dict[str, list[int]] = {}
    for kind, spec in specs(api_key).items():
        headers = ", ".join(
            f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in spec["headers"].items()
        )
        bodies = spec["body"] if isinstance(spec["body"], list) else [spec["body"]]
        for body in bodies:
            text = json.dumps(body, separators=(",", ":"))
            if "@@SEQ@@" in text:
                head, tail = text.split("@@SEQ@@")
                payload = f"head = {_lua_string(head)}, tail = {_lua_string(tail)}"
            else:
                payload = f"body = {_lua_string(text)}"
            entries.append(f"{{path = {_lua_string(CHAT)}, headers = {{{headers}}}, {payload}}}")
            index.setdefault(kind, []).append(len(entries))
    rng = random.Random(seed)
    schedule = [rng.choice(index[kind]) for kind, share in MIX for _ in range(share)]
    rng.shuffle(schedule)
    lines = ",\n".join(entries)
    path.write_text(
        f"return {{specs = {{\n{lines}\n}}, schedule = {{{', '.join(map(str, schedule))}}}}}\n"
    )
