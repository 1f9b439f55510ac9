"""The hand-written cues: what in a text points to a task type, and how strongly.

Structure (code syntax, equations, stack traces) is weighted above English keywords because it
works in every language. The learned model (origin.routing.task_model) sees these as features
next to the words themselves; the classifier also adds them as a prior for context the model
never saw (a system prompt, earlier turns).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

Cue = tuple[str, str, float]  # (signal name, task type, strength)
# Phrasing cues (conditions, multi-hop questions) are looked for this near either end only.
FOCUS_CHARS: Final = 600


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


def text_cues(text: str) -> Iterator[Cue]:
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
