"""How often the semantic cache answers a paraphrase, and how often it answers the wrong question.

Reads bench/data/semantic_pairs.jsonl: each line is a stored question, a new request, and a
label: "paraphrase" (the stored answer is right for the request) or "near_miss" (it is not:
another entity, number, date, negation, direction, language or product). Both are embedded with
the local MiniLM, the cosine becomes the score Upstash Vector would return, and the pair then
goes through the very function the cache uses (`shared.semantic_guard.accepted_candidates`).

Prints, per threshold 0.85..0.99, the hit rate on paraphrases and the false-hit rate on
near-misses, with and without the guard, for all pairs and per split, in the order written:
  dev          the pairs the guard was first designed against;
  holdout      written after that guard was frozen (it made no false hit on them);
  attribute-1  opposite attributes (primary/secondary, enable/disable, min/max), written after a
               test found such a false hit; the guard's opposites check was designed on them;
  attribute-2  written after that check; before its word forms (warmest, best-selling) and
               negating prefixes (formal/informal) were generalised it let 2 of 19 through.

    .venv/bin/python -m bench.cache_eval [--data FILE] [--show]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.local.embedding import MiniLM
from shared.options import DEFAULT_THRESHOLD
from shared.semantic_guard import accepted_candidates, guard

DATA = Path(__file__).resolve().parent / "data" / "semantic_pairs.jsonl"
THRESHOLDS = [round(0.85 + 0.01 * i, 2) for i in range(15)]
SCOPE = "0" * 64  # every pair shares one scope: only the final question's wording differs
BATCH = 32


@dataclass(frozen=True)
class Pair:
    split: str
    label: str
    kind: str
    stored: str
    request: str
    cosine: float

    def hit(self, threshold: float, guarded: bool = True) -> bool:
        if not guarded:
            return self.cosine >= threshold
        score = (1.0 + self.cosine) / 2.0  # as the vector index reports it
        match = ("stored", score, {"scope": SCOPE, "text": self.stored})
        return bool(accepted_candidates(self.request, SCOPE, [match], threshold))


def load(path: Path, model: MiniLM) -> list[Pair]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    stored = _embed(model, [r["stored"] for r in rows])
    requests = _embed(model, [r["request"] for r in rows])
    cosines = (stored * requests).sum(axis=1)
    return [
        Pair(r.get("split", "dev"), r["label"], r["kind"], r["stored"], r["request"], float(c))
        for r, c in zip(rows, cosines)
    ]


def _embed(model: MiniLM, texts: list[str]) -> np.ndarray:
    return np.concatenate([model.embed(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])


def rate(pairs: list[Pair], threshold: float, guarded: bool = True) -> float:
    return sum(p.hit(threshold, guarded) for p in pairs) / len(pairs) if pairs else 0.0


def report(pairs: list[Pair], title: str) -> None:
    para = [p for p in pairs if p.label == "paraphrase"]
    near = [p for p in pairs if p.label == "near_miss"]
    print(
        f"\n{title}: {len(para)} paraphrases, {len(near)} near-misses "
        f"({', '.join(f'{k} {n}' for k, n in sorted(Counter(p.kind for p in near).items()))})"
    )
    print("threshold  paraphrase-hit  false-hit   | without guard: paraphrase-hit  false-hit")
    for t in THRESHOLDS:
        mark = "  <- default" if abs(t - DEFAULT_THRESHOLD) < 1e-9 else ""
        print(
            f"  {t:.2f}      {rate(para, t):6.1%}       {rate(near, t):6.1%}    |"
            f"                 {rate(para, t, False):6.1%}     {rate(near, t, False):6.1%}"
            f"{mark}"
        )


def show(pairs: list[Pair], threshold: float) -> None:
    print(f"\nAt {threshold:.2f}:")
    for p in pairs:
        if p.label == "near_miss" and p.hit(threshold):
            print(f"  FALSE HIT [{p.split}/{p.kind}] {p.cosine:.3f} {p.stored!r} -> {p.request!r}")
        elif p.label == "paraphrase" and not p.hit(threshold):
            why = guard(p.request, p.stored) if p.cosine >= threshold else "below threshold"
            print(f"  missed [{p.split}] {p.cosine:.3f} ({why}) {p.stored!r} -> {p.request!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Semantic-cache hit and false-hit rates.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--show", action="store_true", help="list misses and false hits")
    args = parser.parse_args()
    pairs = load(args.data, MiniLM.load())
    report(pairs, "All pairs")
    for split in sorted({p.split for p in pairs}):
        report([p for p in pairs if p.split == split], f"Split {split!r}")
    if args.show:
        show(pairs, DEFAULT_THRESHOLD)


if __name__ == "__main__":
    main()
