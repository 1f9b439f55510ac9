"""A linear model over words, word pairs and character n-grams that scores the four task types.

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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

WEIGHTS_FILE = Path(__file__).resolve().parent / "task_model.json"
# Characters read for n-grams at each end; words are read over the whole sampled text.
CHAR_SCAN = 320
CHAR_NGRAMS = (3, 4)
ASK_CHARS = 160
_WORD = re.compile(r"[^\W\d_]+|\d+|[{}()\[\];=<>+\-*/%^!?:#@$&|`'\"\\.,]")
_SPACE = re.compile(r"\s+")


def featurize(text: str, extra: Iterable[str] = ()) -> dict[str, float]:
    """Binary features of a text, scaled so that long and short texts weigh alike."""
    terms, grams = _parts(text, extra)
    found = [*terms, *(f"c:{g}" for g in grams)]
    scale = 1.0 / math.sqrt(len(found) or 1)
    return dict.fromkeys(found, scale)


def _parts(text: str, extra: Iterable[str]) -> tuple[set[str], set[str]]:
    """(words, word pairs, shape and extra features), (character n-grams without prefix)."""
    lower = text.casefold()
    words = _WORD.findall(lower[:4096] + " " + lower[-4096:] if len(lower) > 8192 else lower)
    terms = {f"w:{w}" for w in words}
    terms.update([f"b:{a} {b}" for a, b in itertools.pairwise(words)])
    # The ask usually sits at one end of a long paste: its words count again as "the ask".
    if len(lower) > ASK_CHARS * 2:
        for end in (lower[:ASK_CHARS], lower[-ASK_CHARS:]):
            terms.update([f"a:{w}" for w in _WORD.findall(end)])
    terms.update(_shape(text, words))
    terms.update(extra)
    ends = (
        lower if len(lower) <= 2 * CHAR_SCAN else lower[:CHAR_SCAN] + " \x00 " + lower[-CHAR_SCAN:]
    )
    squashed = _SPACE.sub(" ", ends)
    grams: set[str] = set()
    for n in CHAR_NGRAMS:
        grams.update([squashed[i : i + n] for i in range(len(squashed) - n)])
    return terms, grams


def _shape(text: str, words: list[str]) -> list[str]:
    lines = text.count("\n")
    letters = [c for c in text[:2000] if c.isalpha()]
    latin = sum(c < "\u0250" for c in letters)
    return [
        f"len:{min(int(math.log2(len(text) + 1)), 14)}",
        f"words:{min(int(math.log2(len(words) + 1)), 11)}",
        f"lines:{min(lines, 8) if lines < 8 else 8 + min(int(math.log2(lines)), 6)}",
        "script:latin" if not letters or latin / len(letters) > 0.6 else "script:other",
        *(["fence"] if "```" in text else []),
        *(["ends:?"] if text.rstrip().endswith(("?", "？")) else []),
    ]


@dataclass(frozen=True, slots=True)
class TaskModel:
    labels: tuple[str, ...]
    weights: Mapping[str, tuple[float, ...]]  # every feature by its full name
    terms: Mapping[str, tuple[float, ...]]  # the same, less character n-grams
    grams: Mapping[str, tuple[float, ...]]  # character n-grams without their "c:" prefix
    bias: tuple[float, ...]
    temperature: float
    cost: tuple[tuple[float, ...], ...]  # cost[true][predicted]

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> TaskModel:
        data = json.loads(path.read_text("utf-8"))
        weights = {k: tuple(v) for k, v in data["weights"].items()}
        terms = {k: v for k, v in weights.items() if not k.startswith("c:")}
        grams = {k[2:]: v for k, v in weights.items() if k.startswith("c:")}
        labels = tuple(data["labels"])
        return cls(
            labels=labels,
            weights=MappingProxyType(weights),
            terms=MappingProxyType(terms),
            grams=MappingProxyType(grams),
            bias=tuple(data["bias"]),
            temperature=float(data["temperature"]),
            cost=tuple(tuple(row) for row in data["cost"]),
        )

    def probabilities(self, features: Mapping[str, float]) -> list[float]:
        """Calibrated probabilities from a feature dict (as `featurize` builds it)."""
        logits = list(self.bias)
        for name, value in features.items():
            for i, w in enumerate(self.weights.get(name, ())):
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
        # Set intersections run in C: Python only touches the features the model knows.
        hits = [self.terms[t] for t in self.terms.keys() & terms]
        hits += [self.grams[g] for g in self.grams.keys() & grams]
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
        n = len(probs)
        expected = [sum(probs[t] * self.cost[t][p] for t in range(n)) for p in range(n)]
        return min(range(n), key=expected.__getitem__)
