"""Provider-native prompt caching, simulated: which prompt prefixes each provider has seen."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import orjson

from .turn import Counts, Turn

AUTO_MIN_PROMPT = 1024
AUTO_BLOCK = 128
MAX_ENTRIES = 50_000


def prefix_key(source: object) -> bytes:
    return hashlib.blake2b(orjson.dumps(source), digest_size=16).digest()


class PromptCache:
    """Seen prefixes per provider and model, bounded so long benchmarks can't grow it forever."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._seen: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()
        self._max = max_entries

    def clear(self) -> None:
        self._seen.clear()

    def _check_and_add(self, key: tuple[str, str, bytes]) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return False

    def automatic(self, provider: str, turn: Turn) -> Counts:
        """OpenAI/Gemini: a long prompt whose prefix was seen before gets it cached in 128s."""
        counts = Counts(prompt_tokens=turn.prompt_tokens)
        if turn.prompt_tokens < AUTO_MIN_PROMPT or turn.prefix_tokens <= 0:
            return counts
        if self._check_and_add((provider, turn.model, prefix_key(turn.prefix_source))):
            counts.cached_tokens = turn.prefix_tokens // AUTO_BLOCK * AUTO_BLOCK
        return counts

    def explicit(self, provider: str, turn: Turn) -> Counts:
        """Anthropic: read the longest prefix seen before; write the rest up to the last marker."""
        counts = Counts(prompt_tokens=turn.prompt_tokens)
        if not turn.marks:
            return counts
        read = max(
            (m.tokens for m in turn.marks if (provider, turn.model, m.key) in self._seen), default=0
        )
        start = read
        for mark in turn.marks:
            if mark.ttl is None:
                continue
            self._check_and_add((provider, turn.model, mark.key))
            if mark.tokens > start:
                if mark.ttl == "1h":
                    counts.creation_1h += mark.tokens - start
                else:
                    counts.creation_5m += mark.tokens - start
                start = mark.tokens
        counts.cached_tokens = read
        return counts
