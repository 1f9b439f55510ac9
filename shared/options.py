"""Parsing the per-request X-Prism-* control headers, identically at the edge and the origin.

Out-of-range or unknown values are a client mistake, so they raise InvalidRequest with the
header named, rather than being silently replaced by a default the client didn't choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import headers as H
from shared.errors import InvalidRequest
from shared.tags import parse_tags
from shared.text import clean

MODES = ("eco", "balanced", "sport", "fusion")
# The modes the routing table has columns for; fusion routes its synthesiser as sport.
ROUTED_MODES = ("eco", "balanced", "sport")
DEFAULT_MODE = "balanced"
CACHE_DIRECTIVES = ("default", "no-cache", "no-store")
DEFAULT_TTL_S = 3600
MIN_TTL_S, MAX_TTL_S = 60, 30 * 24 * 3600
# Cosine, for the all-MiniLM-L6-v2 embeddings the vector index computes: the strict path, where
# the guard alone decides (the only semantic path the edge has). Near-misses score as high as
# paraphrases with this model: on the dev half of bench/data/semantic_*.jsonl, 0.98 already
# let 0.5% of near-misses through while answering one paraphrase in 300, leaving no room for
# the origin's pair verifier (origin/cache/pair_verifier.py), which judges the candidates below
# this. Lower it per request with X-Prism-Cache-Threshold where answers tolerate it.
# `python -m bench.eval` prints the curve.
DEFAULT_THRESHOLD = 0.99
MIN_THRESHOLD, MAX_THRESHOLD = 0.80, 0.99
# A session id is a key the client chose to group its requests by; one longer than this is
# not an id, and cutting it short could merge two conversations, so it is refused instead.
MAX_SESSION_LENGTH = 256
MAX_VERSION_LENGTH = 128
MAX_HEDGE_DELAY_MS = 60_000
# Output tokens a mode allows when the client sets neither max_tokens nor
# max_completion_tokens: a runaway answer costs at most this, and budgets can reserve it.
OUTPUT_CAPS = {"eco": 1024, "balanced": 4096, "sport": 16384, "fusion": 4096}


@dataclass(frozen=True)
class RequestOptions:
    mode: str = DEFAULT_MODE
    model_prefer: str | None = None
    session_id: str | None = None
    tags: dict[str, str] | None = None
    cache: str = "default"
    cache_ttl_s: int = DEFAULT_TTL_S
    cache_threshold: float = DEFAULT_THRESHOLD
    cache_version: str | None = None
    auto_cache: bool = False
    # X-Prism-Fallback: none keeps a named model from failing over to any other.
    strict_model: bool = False
    # X-Prism-Hedge: None = the mode's default (on in sport), False = off, True = on; with a
    # delay in ms, the hedge fires after that delay instead of the model's observed p90.
    hedge: bool | None = None
    hedge_delay_ms: int | None = None
    memory: bool = False

    @property
    def cache_lookup(self) -> bool:
        return self.cache == "default"

    @property
    def cache_store(self) -> bool:
        return self.cache != "no-store"

    @property
    def remembers(self) -> bool:
        """X-Prism-Memory: on with a session: the answer depends on turns the gateway keeps,
        which the request does not carry, and the turn must be stored, so no cached answer."""
        return self.memory and self.session_id is not None


def parse_options(headers: Mapping[str, str]) -> RequestOptions:
    """Options from request headers; `headers` must look names up case-insensitively."""
    hedge, hedge_delay_ms = _hedge(headers.get(H.HEDGE))
    session_id = _session(headers.get(H.SESSION))
    memory = _choice(headers.get(H.MEMORY), ("on", "off"), "off", H.MEMORY) == "on"
    if memory and session_id is None:
        # Ignored, the client would believe the turn remembered and find it forgotten.
        raise InvalidRequest(
            f"{H.MEMORY}: on needs {H.SESSION}, the id of the conversation to remember.",
            code="invalid_header",
            param=H.MEMORY,
        )
    return RequestOptions(
        mode=_choice(headers.get(H.MODE), MODES, DEFAULT_MODE, H.MODE),
        model_prefer=_short(headers.get(H.MODEL_PREFER), 200),
        session_id=session_id,
        tags=parse_tags(headers.get(H.TAGS)),
        cache=_choice(headers.get(H.CACHE), CACHE_DIRECTIVES, "default", H.CACHE),
        cache_ttl_s=int(
            _number(
                headers.get(H.CACHE_TTL),
                DEFAULT_TTL_S,
                MIN_TTL_S,
                MAX_TTL_S,
                H.CACHE_TTL,
                integer=True,
            )
        ),
        cache_threshold=_number(
            headers.get(H.CACHE_THRESHOLD),
            DEFAULT_THRESHOLD,
            MIN_THRESHOLD,
            MAX_THRESHOLD,
            H.CACHE_THRESHOLD,
        ),
        cache_version=_short(headers.get(H.CACHE_VERSION), MAX_VERSION_LENGTH),
        auto_cache=_choice(headers.get(H.AUTO_CACHE), ("on", "off"), "off", H.AUTO_CACHE) == "on",
        strict_model=_choice(headers.get(H.FALLBACK), ("none", "auto"), "auto", H.FALLBACK)
        == "none",
        memory=memory,
        hedge=hedge,
        hedge_delay_ms=hedge_delay_ms,
    )


def with_output_cap(body: dict[str, Any], mode: str) -> dict[str, Any]:
    """`body` with its mode's output cap when the client set none (the body sent upstream;
    the cache key is computed from what the client sent)."""
    if body.get("max_tokens") is not None or body.get("max_completion_tokens") is not None:
        return body
    return {**body, "max_tokens": OUTPUT_CAPS.get(mode, OUTPUT_CAPS[DEFAULT_MODE])}


def _hedge(raw: str | None) -> tuple[bool | None, int | None]:
    """X-Prism-Hedge: on, off, or the delay in milliseconds after which the hedge fires."""
    text = clean(raw or "").lower()
    if not text:
        return None, None
    if text in ("on", "off"):
        return text == "on", None
    return True, int(_number(text, 0, 0, MAX_HEDGE_DELAY_MS, H.HEDGE, integer=True))


def _choice(raw: str | None, allowed: tuple[str, ...], default: str, name: str) -> str:
    value = clean(raw or "").lower()
    if not value:
        return default
    if value not in allowed:
        raise InvalidRequest(
            f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}.",
            code="invalid_header",
            param=name,
        )
    return value


def _session(raw: str | None) -> str | None:
    value = clean(raw or "")
    if len(value) > MAX_SESSION_LENGTH:
        raise InvalidRequest(
            f"{H.SESSION} must be at most {MAX_SESSION_LENGTH} characters; got {len(value)}.",
            code="invalid_header",
            param=H.SESSION,
        )
    return value or None


def _short(raw: str | None, limit: int) -> str | None:
    value = clean(raw or "")[:limit].strip()
    return value or None


def _number(
    raw: str | None, default: float, low: float, high: float, name: str, integer: bool = False
) -> float:
    text = clean(raw or "")
    if not text:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise InvalidRequest(
            f"{name} must be a number from {low} to {high}; got {text[:40]!r}.",
            code="invalid_header",
            param=name,
        )
    return value
