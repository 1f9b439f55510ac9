"""A linear model over words, word pairs and character n-grams that scores the four task types.

It reads the ask, not the paste: a long text is split into the short instruction at one of its
ends and the material it came with (split_ask), and the ask is featurised exactly like a prompt
that came alone, so what the model learned from short prompts carries over to pasted ones.
Numbers count by their size, not their value.

Learned from the development half of bench/data/prompts_*.jsonl by `python -m bench.train_classifier`
(deterministic), which writes task_model.json beside this file: one weight per task type for
each feature seen in training, a bias, a temperature fitted on out-of-fold predictions so the
probabilities are calibrated, and a cost matrix for the decision. Pure Python at inference:
a prompt of a few hundred characters costs a few hundred dictionary lookups.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

WEIGHTS_FILE = Path(__file__).resolve().parent / "task_model.json"
CHAR_NGRAMS = (3, 4)
# A text longer than ASK_SPLIT is read as pasted material with the ask at one end: an end
# paragraph (or line) of at most ASK_MAX characters, else the first and last ASK_CHARS.
ASK_SPLIT, ASK_MAX, ASK_CHARS = 300, 320, 160
_WORD = re.compile(r"[^\W\d_]+|\d+|[{}()\[\];=<>+\-*/%^!?:#@$&|`'\"\\.,]")
_SPACE = re.compile(r"\s+")
_BREAKS = ("\n\n", "\n")
_DIGITS = str.maketrans("123456789", "000000000")


def featurize(text: str, extra: Iterable[str] = ()) -> dict[str, float]:
    """Binary features of a text's ask, scaled so that long and short asks weigh alike."""
    terms, grams = _parts(text, extra)
    found = [*terms, *(f"c:{g}" for g in grams)]
    scale = 1.0 / math.sqrt(len(found) or 1)
    return dict.fromkeys(found, scale)


def split_ask(text: str) -> tuple[str, str]:
    """(the ask, the material) of a text. A pasted document, log or snippet says little about
    the task; the short instruction at either end says what is wanted, so the ask is read as
    if it had come alone and the model's knowledge of short prompts carries over."""
    if len(text) <= ASK_SPLIT:
        return text, ""
    head, tail = "", ""
    for mark in _BREAKS:
        cut = text.find(mark, 0, ASK_MAX + 1)
        if cut > 0 and not head:
            head = text[:cut]
        cut = text.rfind(mark, len(text) - ASK_MAX - len(mark))
        if cut > 0 and not tail:
            tail = text[cut + len(mark) :]
    head, tail = head.strip(), tail.strip()
    if not (head or tail):
        head, tail = text[:ASK_CHARS], text[-ASK_CHARS:]
    return f"{head}\n{tail}".strip(), text[len(head) : len(text) - len(tail)]


def _parts(text: str, extra: Iterable[str]) -> tuple[set[str], set[str]]:
    """(the ask's words, word pairs, shape and extra features), (its character n-grams without
    prefix). The material is not read: its words describe the paste, not the task, and even
    its length and line count measured worse out of fold (log loss 0.22 vs 0.27 over two fold
    draws); the hand cues and the context prior still see all of it (code, documents, length)."""
    ask = split_ask(text.casefold())[0]
    words = _WORD.findall(ask)
    # A number says little by its value and much by its presence and size: 17 and 240 alike.
    # Most asks have none, and then the words need no second pass (counted in C).
    numbers = sum(map(str.isdigit, words))
    if numbers:
        words = [f"#{min(len(w), 4)}" if w.isdigit() else w for w in words]
    numbers += words.count("#")  # the sign itself reads as a number, like "#4"
    terms = {f"w:{w}" for w in words}
    terms.update([f"b:{a} {b}" for a, b in itertools.pairwise(words)])
    terms.update(_shape(ask, words))
    terms.add(f"numbers:{min(numbers, 6)}")
    terms.update(extra)
    squashed = _SPACE.sub(" ", ask).translate(_DIGITS)
    grams: set[str] = set()
    for n in CHAR_NGRAMS:
        grams.update([squashed[i : i + n] for i in range(len(squashed) - n)])
    return terms, grams


def _shape(text: str, words: list[str]) -> list[str]:
    lines = text.count("\n")
    return [
        f"len:{min(int(math.log2(len(text) + 1)), 14)}",
        f"words:{min(int(math.log2(len(words) + 1)), 11)}",
        f"lines:{min(lines, 8) if lines < 8 else 8 + min(int(math.log2(lines)), 6)}",
        "script:latin" if _mostly_latin(text[:2000]) else "script:other",
        *(["fence"] if "```" in text else []),
        *(["ends:?"] if text.rstrip().endswith(("?", "？")) else []),
    ]


def _mostly_latin(text: str) -> bool:
    if text.isascii():  # most prompts: no per-character loop
        return True
    letters = [c for c in text if c.isalpha()]
    return not letters or sum(c < "\u0250" for c in letters) / len(letters) > 0.6


@dataclass(frozen=True, slots=True)
class TaskModel:
    labels: tuple[str, ...]
    # No map by full feature name: with 50,000 features a third map of the same weights held
    # about 4 MB more in every worker, for `probabilities` alone.
    terms: Mapping[str, tuple[float, ...]]  # every feature but the character n-grams
    grams: Mapping[str, tuple[float, ...]]  # character n-grams without their "c:" prefix
    bias: tuple[float, ...]
    temperature: float
    cost: tuple[tuple[float, ...], ...]  # cost[true][predicted]
    # Built once from the above, for `predict` and `decide` (load builds them).
    term_weight: Callable[[str], tuple[float, ...] | None] = field(repr=False, compare=False)
    gram_weight: Callable[[str], tuple[float, ...] | None] = field(repr=False, compare=False)
    cost_by_prediction: tuple[tuple[float, ...], ...] = field(repr=False, compare=False)

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> TaskModel:
        # 200,000 weights take about 10,000 distinct values (four decimals): one float object
        # per value and one tuple per distinct row hold 5 MB less in every worker than a
        # fresh object for each.
        floats: dict[str, float] = {}
        data = json.loads(
            path.read_text("utf-8"), parse_float=lambda s: floats.setdefault(s, float(s))
        )
        rows: dict[tuple[float, ...], tuple[float, ...]] = {}
        weights = {
            k: rows.setdefault(row, row) for k, v in data["weights"].items() for row in [tuple(v)]
        }
        terms = {k: v for k, v in weights.items() if not k.startswith("c:")}
        grams = {k[2:]: v for k, v in weights.items() if k.startswith("c:")}
        labels = tuple(data["labels"])
        cost = tuple(tuple(row) for row in data["cost"])
        return cls(
            labels=labels,
            terms=MappingProxyType(terms),
            grams=MappingProxyType(grams),
            bias=tuple(data["bias"]),
            temperature=float(data["temperature"]),
            cost=cost,
            # The plain dicts' own `get`: a MappingProxyType's is a slower Python-level call.
            term_weight=terms.get,
            gram_weight=grams.get,
            cost_by_prediction=tuple(zip(*cost)),
        )

    def probabilities(self, features: Mapping[str, float]) -> list[float]:
        """Calibrated probabilities from a feature dict (as `featurize` builds it)."""
        logits = list(self.bias)
        for name, value in features.items():
            found = self.grams.get(name[2:]) if name.startswith("c:") else self.terms.get(name)
            for i, w in enumerate(found or ()):
                logits[i] += w * value
        return self._softmax(logits)

    def predict(
        self, text: str, extra: Iterable[str] = (), prior: tuple[float, ...] = ()
    ) -> list[float]:
        """The same as probabilities(featurize(text, extra)), in a fraction of the time: every
        feature weighs the same scale, so weights are summed column-wise in C first. `prior`
        is added to the logits: evidence the model was never trained to see."""
        terms, grams = _parts(text, extra)
        scale = 1.0 / math.sqrt(len(terms) + len(grams) or 1)
        # Lookups run in C (map, filter): Python only touches the features the model knows.
        hits = [*filter(None, map(self.term_weight, terms))]
        hits += filter(None, map(self.gram_weight, grams))
        logits = list(self.bias)
        for i, column in enumerate(zip(*hits)):
            logits[i] += scale * sum(column)
        for i, value in enumerate(prior):
            logits[i] += value
        return self._softmax(logits)

    def _softmax(self, logits: list[float]) -> list[float]:
        top = max(logits)
        exps = [math.exp((z - top) / self.temperature) for z in logits]
        total = sum(exps)
        return [e / total for e in exps]

    def decide(self, probs: list[float]) -> int:
        """The task type with the least expected cost: sending complex work to a small model
        costs more than sending simple work to a large one."""
        expected = [sum(map(operator.mul, probs, costs)) for costs in self.cost_by_prediction]
        return min(range(len(probs)), key=expected.__getitem__)
