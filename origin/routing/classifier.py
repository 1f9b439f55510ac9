"""Guessing a request's task type from its text, locally, without calling a model.

The router needs a coarse answer (simple / code / reasoning / complex) and a measure of how
sure we are, in well under a millisecond, so this is a weighted bag of cheap cues rather than
a model. Structure (code syntax, equations, stack traces, length, turns) is weighted above
English keywords because it works in every language. Long texts are read only at their head
and tail: the ask usually sits at one end, and a bounded scan keeps the cost flat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from origin.routing.task_model import TaskModel, featurize

TASK_TYPES: Final = ("simple", "code", "reasoning", "complex")
CHARS_PER_TOKEN: Final = 4
# (head, tail) characters read of each text; earlier turns matter less than the latest ones.
INSTRUCTION_SCAN: Final = (2048, 2048)
SYSTEM_SCAN: Final = (1024, 1024)
HISTORY_SCAN: Final = (512, 1536)
# Phrasing cues (conditions, multi-hop questions) are looked for this near either end only.
FOCUS_CHARS: Final = 600
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

Cue = tuple[str, str, float]  # (signal name, task type, strength)
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
            _add(prior, ignore, _text_cues(text), weight * CONTEXT_PRIOR, "")
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
            _add(scores, signals, _text_cues(text), weight, source)
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


def _vocab(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Python's regex engine has no multi-pattern search, so patterns start with a literal or a
# small character set wherever possible, and phrase patterns run only when a word set says
# they might match: that keeps a scan near C speed.
_WORD = re.compile(r"[a-z][a-z0-9+#'-]*")
# (words, signal, task, strength per distinct word found, cap)
_WORD_CUES: Final = tuple(
    (_vocab(words), name, task, each, cap)
    for words, name, task, each, cap in (
        (
            (
                "python javascript typescript java golang kotlin c++ c# sql html css bash regex php "
                "powershell"
            ),
            "code-language",
            "code",
            1.0,
            1.0,
        ),
        (
            (
                "code coding function functions method class closure closures bug bugs debug debugging "
                "compile compiler refactor rust swift shell script api endpoint repo git docker dockerfile "
                "kubernetes npm pip library dependency exception stacktrace variable loop array struct "
                "pointer recursion algorithm linked hashmap segfault unittest pytest json yaml query"
            ),
            "code-keyword",
            "code",
            0.6,
            1.0,
        ),
        (
            (
                "solve equation equations integral derivative probability calculate compute percent "
                "percentage average ratio prime factorial modulo remainder divisible odds dice"
            ),
            "math-keyword",
            "reasoning",
            0.6,
            1.2,
        ),
        (
            "prove proof theorem lemma derive deduce contradiction induction",
            "proof",
            "reasoning",
            1.2,
            1.2,
        ),
        (
            "compare comparing comparison versus vs trade-off trade-offs tradeoff tradeoffs",
            "comparison",
            "reasoning",
            0.8,
            0.8,
        ),
        ("why", "why", "reasoning", 0.5, 0.5),
        (
            (
                "summarize summarise summary synthesize synthesise synthesis analyze analyse analysis "
                "cross-reference evaluate assess assessment critique report essay research in-depth "
                "comprehensive thorough detailed strategy architecture design roadmap plan combine "
                "consolidate overview outlook forecast proposal whitepaper"
            ),
            "synthesis",
            "complex",
            0.6,
            1.5,
        ),
    )
)
# Words that are code, not English, wherever they appear; each counts as a syntax hit.
_CODE_TOKENS = _vocab(
    "const var func fn elif def printf println console stdout nullptr std "
    "typeof instanceof namespace impl pub usize void nil init args kwargs str "
    "int bool len async await lambda grep xargs sudo chmod chown curl wget "
    "kubectl awk sed ls rm mkdir"
)
_WH = _vocab("how what when which who why is are can does do was were will would")
_STATEMENT = re.compile(
    r"\n[ \t]*(?:def \w+\(|class \w+ *[(:{]|import [\w.]+|from [\w.]+ import |return\b"
    r"|(?:public|private|protected|static) \w|#include|[}\]]|(?:el)?if [^\n]+:[ \t]*$"
    r"|for \w+ in [^\n]+:[ \t]*$)",
    re.MULTILINE,
)
# A call opening a line, or an indented `key:` (YAML, JSON-ish config).
_CALL_LINE = re.compile(r"\n[ \t]*[A-Za-z_][\w.]*\(|\n[ \t]+[\w.-]+:(?: |$)", re.MULTILINE)
_OPERATOR = re.compile(r"[=\-:&|!+*/<>][=>:&|]|[;{][ \t]*$", re.MULTILINE)
_MARKUP = re.compile(
    r"\.[A-Za-z_]\w*\(|\(\)|</?[a-z][a-z0-9]*(?: [a-z-]+=\"[^\"\n]*\")* */?>"
    r"|SELECT [^;\n]{1,200}FROM "
)
# (pattern, signal, task, strength) for cues that only need to be present, case kept.
_PRESENCE_CUES: Final = (
    (re.compile(r"\n[ \t]*(?:```|~~~)"), "code-fence", "code", 1.5),
    (
        re.compile(
            r"Traceback \(most recent call last\)|File \"[^\"\n]+\", line \d"
            r"|\n[ \t]+at [\w$.<>]+\(|Exception in thread|panicked at|npm ERR!"
            r"|error\[E\d{4}\]|Segmentation fault|undefined reference to"
            r"|(?:Error|Exception)(?::|[ \t]*$)",
            re.MULTILINE,
        ),
        "stack-trace",
        "code",
        2.0,
    ),
    (
        re.compile(
            r"\.(?:py|js|mjs|ts|tsx|jsx|go|rs|java|kt|cc|cpp|hpp|cs|rb|php|swift|scala"
            r"|sh|sql|ya?ml|toml|ipynb|vue)\b"
        ),
        "file-path",
        "code",
        0.5,
    ),
    (re.compile(r"`[^`\n]+`"), "inline-code", "code", 0.4),
)
_DIGIT = re.compile(r"[0-9]")
_ARITHMETIC = re.compile(
    r"[0-9] *(?:[+*×÷^] *\(?[0-9]|[-−/] +\(?[0-9]|[a-z] *[-+−=]"
    r"|% *of +\$?[0-9])|[=<>≤≥] *-?[0-9]"
)
_MATH_SYMBOL = re.compile(r"[²³∫√∑∏π≈≠]|\^ *[0-9(]|\\(?:frac|int|sum|sqrt)")
_NUMBER = re.compile(r"[0-9]+(?:[.,:/-][0-9]+)*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}")
_HOW_MUCH = re.compile(r"how (?:many|much|long|far|old)\b")
# Phrasing cues, each with the words that must be present for its pattern to be worth running.
_STEPS = re.compile(
    r"step[- ]by[- ]step|think (?:it )?through|walk me through|show your work"
    r"|explain your reasoning|chain of thought|let'?s think"
)
_STEPS_GATE = _vocab("step think walk show explain chain let's")
_CHOICE = re.compile(
    r"(?:better|cheaper|faster|safer|smarter|wiser) to \w+(?: \w+)? or\b"
    r"|should (?:i|we) \w+(?: \w+)? or\b|pros and cons|difference between"
    r"|which (?:is|one is|would be) (?:better|best|cheaper|faster)"
)
_CHOICE_GATE = _vocab("better cheaper faster safer smarter wiser should which pros difference")
_CONDITION = re.compile(
    r"(?:before|after|since|until|prior to|as of|earlier than|later than|older than) +(?:[0-9]"
    r"|the\b|last\b|next\b|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|given that"
    r"|assuming|provided that|only if|unless\b"
    r"|if\b[^?.\n]{3,200}, *(?:what|when|how|which|who|will|would|does|do|is|can)\b"
)
_CONDITION_GATE = _vocab(
    "before after since until prior as earlier later older given assuming provided only unless if"
)
_MULTI_HOP = re.compile(
    r"(?:of|in|for|by) the \w+(?: \w+)? (?:who|that|which|where|whose)\b"
    r"|(?:who|what|which)\b[^?.]{2,80}\bwhen\b"
    r"|, and (?:how|what|who|when|where|which|why)\b"
)
_MULTI_HOP_GATE = _vocab("who which where whose when that and")
_DOC_MARK = re.compile(
    r"\n[ \t#*]*(?:document|doc|source|article|exhibit|attachment|paper"
    r"|transcript|passage) ?#? ?(?:[0-9]+|[a-h])[ \t]*[:.)\n]|<document\b"
)
_DOC_GATE = _vocab("document doc source article exhibit attachment paper transcript passage")
_LONG_OUTPUT = re.compile(
    r"[0-9][0-9,.]{2,5}[- ]words?\b|(?:[0-9]+|several|multiple) (?:pages|chapters)"
)
_LONG_OUTPUT_GATE = _vocab("word words page pages chapter chapters")


def _text_cues(text: str) -> Iterator[Cue]:
    lower = "\n" + text.lower()
    text = "\n" + text  # lets line-start patterns anchor on a literal newline
    words = frozenset(_WORD.findall(lower))
    for vocabulary, name, task, each, cap in _WORD_CUES:
        if found := len(words & vocabulary):
            yield name, task, min(each * found, cap)
    for pattern, name, task, strength in _PRESENCE_CUES:
        if pattern.search(text):
            yield name, task, strength
    yield from _syntax_cues(text, words)
    yield from _reasoning_cues(text, lower, words)


def _syntax_cues(text: str, words: frozenset[str]) -> Iterator[Cue]:
    hits = sum(len(p.findall(text)) for p in (_STATEMENT, _OPERATOR, _MARKUP))
    hits += 2 * len(_CALL_LINE.findall(text)) + len(words & _CODE_TOKENS)
    lines = text.count("\n")
    if hits >= 2:
        # Prose can trip a pattern or two; code trips them on most lines.
        density = 1.0 if lines < 10 else min(1.0, hits / lines / 0.2)
        yield "code-syntax", "code", (2.0 if hits >= 6 else 1.5 if hits >= 3 else 1.0) * density
    elif hits:
        yield "code-syntax", "code", 0.4


def _reasoning_cues(text: str, lower: str, words: frozenset[str]) -> Iterator[Cue]:
    # The ask sits at one end of a long text; phrasing in the middle is just the material.
    focus = (
        lower
        if len(lower) <= 2 * FOCUS_CHARS
        else lower[:FOCUS_CHARS] + "\n" + lower[-FOCUS_CHARS:]
    )
    question = any(q in text for q in "?？؟") or lower.lstrip()[:6].split(" ")[0] in _WH
    digits = _DIGIT.search(text) is not None
    expressions = len(_ARITHMETIC.findall(lower)) if digits else 0
    if not lower.isascii() or "^" in lower or "\\" in lower:
        expressions += len(_MATH_SYMBOL.findall(lower))
    if expressions:
        yield "math", "reasoning", 1.0 if expressions == 1 else 1.5
    numbers = len(set(_NUMBER.findall(focus))) if digits and question else 0
    if numbers >= 2 and _HOW_MUCH.search(focus):
        yield "word-problem", "reasoning", 1.2
    elif numbers >= 3:
        yield "word-problem", "reasoning", 1.0 if numbers >= 4 else 0.8
    if numbers >= 2 and len(_DATE.findall(focus)) >= 2:
        yield "date-math", "reasoning", 1.0
    yield from _phrase_cues(focus, lower, words, question)


def _phrase_cues(focus: str, lower: str, words: frozenset[str], question: bool) -> Iterator[Cue]:
    if words & _STEPS_GATE and _STEPS.search(focus):
        yield "step-by-step", "reasoning", 1.0
    if words & _CHOICE_GATE and _CHOICE.search(focus):
        yield "comparison", "reasoning", 0.8
    if words & _CONDITION_GATE and _CONDITION.search(focus):
        yield "conditional", "reasoning", 1.0 if question else 0.5
    elif question and "if" in words:
        yield "conditional", "reasoning", 0.4
    if question and words & _MULTI_HOP_GATE and (hops := len(_MULTI_HOP.findall(focus))):
        yield "multi-hop", "reasoning", min(0.6 * hops, 1.2)
    if words & _DOC_GATE and len(_DOC_MARK.findall(lower)) >= 2:
        yield "multi-document", "complex", 1.2
    if words & _LONG_OUTPUT_GATE and _LONG_OUTPUT.search(lower):
        yield "long-output", "complex", 0.6
