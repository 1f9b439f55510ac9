"""The soak run's request mix (bench/soak.py) and its rendering as a Lua table for wrk.

Semantic hits come in two kinds, both worded so that the exact fingerprint misses: a stored
question in capitals (all-MiniLM-L6-v2 is uncased, so the index finds it at cosine 1.0 and
the strict path answers), and a rewording the index ranks below the strict 0.99 default
("What's the way to ..." for "How do I ...?"), which only the origin's pair verifier lets
through. Of the misses (unique questions), the single-turn ones go through the semantic
layer too (a lookup, then their vector stored); the long chats and streams do not: the vector
stand-in embeds with numpy on the same two cores, and a vector lookup per miss would saturate
it. wrk joins their words with 1 to 8 spaces, chosen afresh for each request: the
tokenizer and the guard ignore the spacing, the fingerprint does not, so every one is a new
wording (a semantic hit stores nothing, but a lookup that failed would store its wording and
turn later repeats into exact hits). Every pair here was written for the soak, in neither
half of bench/data.
"""

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
    ("miss", 50),
    ("miss-chat", 350),
    ("miss-auto", 100),
    ("hit", 500),
    ("semantic-case", 100),
    ("semantic-reworded", 100),
    ("stream-miss", 200),
    ("stream-hit", 200),
    ("bypass", 200),
    ("bad-body", 61),
    ("unknown-model", 70),
    ("bad-header", 49),
    ("bad-key", 20),
)
SCHEDULE_SLOTS = sum(slots for _, slots in MIX)
# (stored question, the rewording asked): cosine 0.96-0.985, accepted by the pair verifier.
REWORDED = (
    ("How do I reset my password?", "What's the way to reset my password?"),
    ("How can I change my email address?", "What's the way to change my email address?"),
    ("How do I cancel my subscription?", "What's the way to cancel my subscription?"),
    ("How do I export my data?", "What's the way to export my data?"),
)


# How the misses' questions begin: each is asked once, and the soak forgets their vectors.
UNIQUE = ("Tell me something new", "Write a haiku about", "Stream a story")


def unique_vectors_filter() -> str:
    """The Upstash filter selecting the misses' entries in the vector index."""
    return " OR ".join(f"text GLOB '{start}*'" for start in UNIQUE)


def chat_body(
    content: str, model: str = "gpt-4o-mini", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **(extra or {})}


def long_chat(
    content: str, model: str = "gpt-4o-mini", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A fourth user turn: past the semantic layer's three, so only the exact layer looks."""
    earlier = [
        {"role": role, "content": f"{role} turn {i}"}
        for i in range(3)
        for role in ("user", "assistant")
    ]
    body = chat_body(content, model, extra)
    return {**body, "messages": [*earlier, *body["messages"]]}


def hit_prompt(i: int) -> str:
    return f"Soak question number {i}: what is a good name for a cat?"


def stored_questions() -> list[str]:
    """What the run stores before it starts: the exact hits' and the semantic hits' sources."""
    return [hit_prompt(i) for i in range(HIT_PROMPTS)] + [stored for stored, _ in REWORDED]


def specs(api_key: str) -> dict[str, dict[str, Any]]:
    """One request shape per kind of MIX. "unique" ones carry SEQ where wrk puts a new value."""
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    stream = {"stream": True, "stream_options": {"include_usage": True}}
    seq = "@@SEQ@@"
    return {
        "miss": {"headers": auth, "body": chat_body(f"{UNIQUE[0]}, {seq}")},
        "miss-chat": {"headers": auth, "body": long_chat(f"{UNIQUE[0]}, {seq}")},
        "miss-auto": {"headers": auth, "body": long_chat(f"{UNIQUE[1]} {seq}", "auto")},
        "hit": {"headers": auth, "body": [chat_body(hit_prompt(i)) for i in range(HIT_PROMPTS)]},
        "semantic-case": {
            "headers": auth,
            "body": [chat_body(hit_prompt(i).upper()) for i in range(HIT_PROMPTS)],
            "spaced": True,
        },
        "semantic-reworded": {
            "headers": auth,
            "body": [chat_body(asked) for _, asked in REWORDED],
            "spaced": True,
        },
        "stream-miss": {"headers": auth, "body": long_chat(f"{UNIQUE[2]} {seq}", extra=stream)},
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


def _spaced_payload(body: dict[str, Any]) -> str:
    """head, words, tail: wrk sends head .. the words joined by 1-8 spaces .. tail."""
    question = body["messages"][-1]["content"]
    marked = {**body, "messages": [{"role": "user", "content": "@@WORDS@@"}]}
    head, tail = json.dumps(marked, separators=(",", ":")).split("@@WORDS@@")
    # json.dumps of each word alone, quotes dropped: what it would be inside the body.
    words = ", ".join(_lua_string(json.dumps(w)[1:-1]) for w in question.split(" "))
    return f"head = {_lua_string(head)}, words = {{{words}}}, tail = {_lua_string(tail)}"


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
            elif spec.get("spaced"):
                payload = _spaced_payload(body)
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
