"""Guessing a request's task type from its text, locally, without calling a model.

The router needs a coarse answer (simple / code / reasoning / complex) and a measure of how
sure we are, in well under a millisecond and without a network call: a linear model over
hashed word and character n-grams of the ask (origin.routing.task_model, trained on the
development half of the labelled prompts), with the hand-written cues (origin.routing
.text_cues) as features, and the cues of what the labelled prompts never show (a system
prompt, earlier turns, long pastes, several documents, tools) added as a prior. Long texts are
read only at their head and tail: the ask usually sits at one end, and a bounded scan keeps
the cost flat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from origin.routing.task_model import TaskModel, featurize
from origin.routing.text_cues import Cue, text_cues

TASK_TYPES: Final = ("simple", "code", "reasoning", "complex")
CHARS_PER_TOKEN: Final = 4
# (head, tail) characters read of each text; earlier turns matter less than the latest ones.
INSTRUCTION_SCAN: Final = (2048, 2048)
SYSTEM_SCAN: Final = (1024, 1024)
HISTORY_SCAN: Final = (512, 1536)
MEDIUM_INPUT_TOKENS, LONG_INPUT_TOKENS, VERY_LONG_INPUT_TOKENS = 800, 2_000, 6_000
MANY_TURNS, VERY_MANY_TURNS = 12, 24
BIG_PART_CHARS: Final = 1_500  # two non-system messages this long read as several documents
# A text with more than this share of non-Latin letters is flagged: English cues can't fire there.
NON_LATIN_SHARE: Final = 0.3
# Logit units per unit of hand-cue strength, for context the learned model never saw; a long
# input's or several documents' prior is stronger, as the ask alone would say otherwise.
CONTEXT_PRIOR: Final = 1.0
LONG_INPUT_PRIOR: Final = 2.0
MULTI_DOCUMENT_PRIOR: Final = 2.0
# How much a cue counts by where it was found; the last user turn is the instruction.
INSTRUCTION_WEIGHT, SYSTEM_WEIGHT, HISTORY_WEIGHT = 1.0, 0.6, 0.4

_MODEL: Final = TaskModel.load()


@dataclass(frozen=True, slots=True)
class Classification:
    task_type: str
    confidence: float
    signals: tuple[str, ...] = ()
    est_tokens: int = 0  # prompt tokens as chars / 4, for the router's context-window check


UNLABELLED: Final = "unknown"


@dataclass(frozen=True, slots=True)
class _Input:
    system: str
    instruction: str
    history: str
    total_chars: int
    turns: int
    big_parts: int
    media: int
    tools: bool


def classify(body: Mapping[str, Any]) -> Classification:
    """The task type of a chat-completions body; total over any JSON-shaped value."""
    data = _gather(body if isinstance(body, Mapping) else {})
    tokens = data.total_chars // CHARS_PER_TOKEN
    if not (data.instruction.strip() or data.system.strip() or data.history.strip()):
        return Classification("simple", 0.5, ("empty",), tokens)
    scores, signals = _cues(data, tokens)
    probs = _MODEL.predict(
        _model_text(data), _cue_features(scores, signals), _context_prior(data, tokens, signals)
    )
    task = _MODEL.decide(probs)
    return Classification(
        _MODEL.labels[task], round(min(probs[task], 0.99), 3), tuple(signals), tokens
    )


def estimate(body: Mapping[str, Any]) -> Classification:
    """The prompt's size alone, no task type: all that routing a named model needs (its
    fallbacks must fit the context), so a pinned request is routed before its cache lookup
    and `classify` runs only when the request goes to a provider."""
    data = _gather(body if isinstance(body, Mapping) else {})
    return Classification(UNLABELLED, 0.0, (), data.total_chars // CHARS_PER_TOKEN)


def _context_prior(data: _Input, tokens: int, signals: dict[str, None]) -> tuple[float, ...]:
    """The hand cues for what the labelled prompts never show the model (a system prompt,
    earlier turns, many turns, a long paste, several documents, images, tools), added to its
    logits."""
    prior = {"code": 0.0, "reasoning": 0.0, "complex": 0.0}
    ignore: dict[str, None] = {}
    for text, weight in ((data.system, SYSTEM_WEIGHT), (data.history, HISTORY_WEIGHT)):
        if text and text is not _model_text(data):
            _add(prior, ignore, text_cues(text), weight * CONTEXT_PRIOR, "")
    lengths = ("medium-input", "long-input", "multi-document")
    shape = (c for c in _shape_cues(data, tokens) if c[0] not in lengths)
    _add(prior, ignore, shape, CONTEXT_PRIOR, "")
    # A long paste is complex work whatever the ask (small models lose track in long inputs),
    # and so is several documents to combine, in one message or many; the labelled prompts
    # show neither, so the model cannot learn it and the prior says it.
    if tokens >= LONG_INPUT_TOKENS:
        prior["complex"] += LONG_INPUT_PRIOR * (2.0 if tokens >= VERY_LONG_INPUT_TOKENS else 1.3)
    if "multi-document" in signals:
        prior["complex"] += MULTI_DOCUMENT_PRIOR
    return (0.0, *(prior[t] for t in TASK_TYPES[1:]))


def model_features(body: Mapping[str, Any]) -> dict[str, float]:
    """What the learned model sees of a body; the training script calls this very function."""
    data = _gather(body if isinstance(body, Mapping) else {})
    scores, signals = _cues(data, data.total_chars // CHARS_PER_TOKEN)
    return _model_features(data, scores, signals)


def _model_features(
    data: _Input, scores: dict[str, float], signals: dict[str, None]
) -> dict[str, float]:
    return featurize(_model_text(data), _cue_features(scores, signals))


def _model_text(data: _Input) -> str:
    return data.instruction or data.system or data.history


def _cue_features(scores: dict[str, float], signals: dict[str, None]) -> list[str]:
    # The hand-written cues enter as features: the model learns how far to trust each.
    cues = [f"cue:{task}:{min(int(score * 2), 6)}" for task, score in scores.items() if score]
    return [*cues, *(f"sig:{s}" for s in signals)]


def _cues(data: _Input, tokens: int) -> tuple[dict[str, float], dict[str, None]]:
    scores = {"code": 0.0, "reasoning": 0.0, "complex": 0.0}
    signals: dict[str, None] = {}
    for text, weight, source in (
        (data.instruction, INSTRUCTION_WEIGHT, ""),
        (data.system, SYSTEM_WEIGHT, "system-prompt"),
        (data.history, HISTORY_WEIGHT, "history"),
    ):
        if text:
            _add(scores, signals, text_cues(text), weight, source)
    _add(scores, signals, _shape_cues(data, tokens), 1.0, "")
    if _mostly_non_latin(data.instruction or data.system or data.history):
        signals["non-latin"] = None
    return scores, signals


def _add(
    scores: dict[str, float],
    signals: dict[str, None],
    cues: Iterator[Cue],
    weight: float,
    source: str,
) -> None:
    for name, task, strength in cues:
        scores[task] += strength * weight
        signals[name] = None
        if source:
            signals[source] = None


def _gather(body: Mapping[str, Any]) -> _Input:
    messages = body.get("messages")
    system: list[str] = [_content_text(body.get("system"))[0]]  # Anthropic-style top level
    turns: list[str] = []
    total, big, media, last_user = len(system[0]), 0, 0, -1
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, Mapping):
            continue
        text, other = _content_text(message.get("content"))
        total, media = total + len(text), media + other
        if message.get("role") in ("system", "developer"):
            system.append(text)
            continue
        big += len(text) >= BIG_PART_CHARS
        last_user = len(turns) if message.get("role") == "user" else last_user
        turns.append(text)
    prompt = _content_text(body.get("prompt"))[0]  # legacy completions body
    if prompt:
        total, last_user = total + len(prompt), len(turns)
        turns.append(prompt)
    instruction = turns.pop(last_user) if turns else ""
    tools = any(isinstance(body.get(k), list) and body[k] for k in ("tools", "functions"))
    return _Input(
        _sample(system, SYSTEM_SCAN),
        _sample([instruction], INSTRUCTION_SCAN),
        _sample(turns, HISTORY_SCAN),
        total,
        len(turns) + 1,
        big,
        media,
        tools,
    )


def _content_text(content: Any) -> tuple[str, int]:
    """The text of one message's content, and how many non-text parts (images, audio) it had."""
    if isinstance(content, str):
        return content, 0
    parts = [content] if isinstance(content, Mapping) else content
    if not isinstance(parts, list):
        return "", 0
    texts = [
        p if isinstance(p, str) else p["text"]
        for p in parts
        if isinstance(p, str) or (isinstance(p, Mapping) and isinstance(p.get("text"), str))
    ]
    return "\n".join(texts), sum(p is not None for p in parts) - len(texts)


def _sample(pieces: list[str], scan: tuple[int, int]) -> str:
    """The pieces joined, or only their first and last characters (`scan`) when longer."""
    if sum(map(len, pieces)) <= scan[0] + scan[1]:
        return "\n".join(pieces)
    ends: list[list[str]] = [[], []]
    for end, budget, ordered in ((0, scan[0], pieces), (1, scan[1], pieces[::-1])):
        for piece in ordered:
            if budget <= 0:
                break
            ends[end].append(piece[:budget] if end == 0 else piece[-budget:])
            budget -= len(ends[end][-1])
    return "\n".join(ends[0]) + "\n...\n" + "\n".join(reversed(ends[1]))


_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NON_LATIN = re.compile(
    r"[\u0370-\u03ff\u0400-\u052f\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff"
    r"\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)


def _mostly_non_latin(text: str) -> bool:
    if text.isascii():
        return False
    sample = text[:2048]
    ascii_only = sample.encode("ascii", "ignore")
    latin = len(ascii_only) - len(ascii_only.translate(None, _ASCII_LETTERS))
    other = sum(map(len, _NON_LATIN.findall(sample)))
    return other > NON_LATIN_SHARE * (other + latin)


def _shape_cues(data: _Input, tokens: int) -> Iterator[Cue]:
    """Cues from the request's shape rather than its words: length, turns, parts, tools."""
    if tokens >= MEDIUM_INPUT_TOKENS:
        strength = 2.0 if tokens >= VERY_LONG_INPUT_TOKENS else 1.3
        yield (
            ("long-input", "complex", strength)
            if tokens >= LONG_INPUT_TOKENS
            else ("medium-input", "complex", 0.4)
        )
    if data.turns >= MANY_TURNS:
        yield "many-turns", "complex", 1.2 if data.turns >= VERY_MANY_TURNS else 0.8
    if data.big_parts >= 2:
        yield "multi-document", "complex", 1.2
    if data.media:
        yield "media", "complex", 0.3
    if data.tools:
        yield "tools", "complex", 0.5
