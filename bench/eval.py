"""Both smart layers on the stored labelled sets: the classifier's confusion matrix and the
semantic cache's hit / false-hit curve, on the test half unless told otherwise.

The sets are built by bench.build_sets and split before anything was tuned; the classifier was
trained (bench.train_classifier) and the verifier's checks chosen on the dev half only, so the
test half is the honest number. Prints:
  * classifier: accuracy, per-type recall, the confusion matrix, confidence vs. accuracy (is
    the low-confidence escalation firing when the model is actually unsure?), CPU per request;
  * semantic cache: per threshold, paraphrases answered and near-misses wrongly answered with
    the full verification, and each verification piece's contribution at the default threshold.

    .venv/bin/python -m bench.eval [--split test|dev] [--only classifier|semantic]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from infra.local.embedding import MiniLM
from origin.routing.classifier import TASK_TYPES, classify
from origin.routing.router import LOW_CONFIDENCE
from shared.options import DEFAULT_THRESHOLD
from shared.semantic_guard import guard
from shared.semantic_verify import CHECKS, DEFAULT_CHECKS, difference

DATA = Path(__file__).resolve().parent / "data"
THRESHOLDS = [round(0.80 + 0.02 * i, 2) for i in range(10)]
BATCH = 32


def _rows(name: str, split: str) -> list[dict[str, str]]:
    lines = (DATA / f"{name}_{split}.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def classifier_report(split: str) -> None:
    rows = _rows("prompts", split)
    matrix: Counter[tuple[str, str]] = Counter()
    confident: list[tuple[float, bool]] = []
    cpu: list[float] = []
    for r in rows:
        body = {"messages": [{"role": "user", "content": r["prompt"]}]}
        start = time.process_time_ns()
        got = classify(body)
        cpu.append((time.process_time_ns() - start) / 1e6)
        matrix[r["label"], got.task_type] += 1
        confident.append((got.confidence, got.task_type == r["label"]))
    right = sum(matrix[t, t] for t in TASK_TYPES)
    print(
        f"\nClassifier on the {split} half: {len(rows)} prompts, accuracy {right / len(rows):.1%}"
    )
    print("true \\ predicted " + "".join(f"{t:>11}" for t in TASK_TYPES) + "     recall")
    for t in TASK_TYPES:
        total = sum(matrix[t, p] for p in TASK_TYPES) or 1
        cells = "".join(f"{matrix[t, p]:>11}" for p in TASK_TYPES)
        print(f"{t:<17}{cells}     {matrix[t, t] / total:6.1%}")
    print(f"confidence vs accuracy (below {LOW_CONFIDENCE} the router escalates one mode):")
    for lo, hi in ((0.0, LOW_CONFIDENCE), (LOW_CONFIDENCE, 0.8), (0.8, 0.9), (0.9, 1.01)):
        part = [ok for c, ok in confident if lo <= c < hi]
        share = sum(part) / len(part) if part else 0.0
        print(f"  [{lo:.2f}, {min(hi, 1.0):.2f}): {len(part):4d} prompts, {share:6.1%} right")
    cpu.sort()
    print(
        f"CPU per classify(): p50 {statistics.median(cpu):.3f} ms, "
        f"p90 {cpu[int(len(cpu) * 0.9)]:.3f} ms"
    )


def _cosines(rows: list[dict[str, str]]) -> list[float]:
    model = MiniLM.load()

    def embed(texts: list[str]) -> np.ndarray:
        parts = [model.embed(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return np.concatenate(parts)

    stored, asked = embed([r["stored"] for r in rows]), embed([r["request"] for r in rows])
    return [float(x) for x in (stored * asked).sum(axis=1)]


Verifier = Callable[[str, str], bool]  # (request, stored) -> may answer


def _rates(
    rows: list[dict[str, str]], cosines: list[float], threshold: float, ok: Verifier
) -> tuple[float, float]:
    hits = [c >= threshold and ok(r["request"], r["stored"]) for r, c in zip(rows, cosines)]
    para = [h for h, r in zip(hits, rows) if r["label"] == "paraphrase"]
    near = [h for h, r in zip(hits, rows) if r["label"] != "paraphrase"]
    return sum(para) / len(para), sum(near) / len(near)


def _words_only(request: str, stored: str) -> bool:
    return (guard(request, stored) or "") in ("", *CHECKS)


def semantic_report(split: str) -> None:
    rows = _rows("semantic", split)
    cosines = _cosines(rows)
    kinds = Counter(r["kind"] for r in rows if r["label"] != "paraphrase")
    n_para = sum(r["label"] == "paraphrase" for r in rows)
    print(
        f"\nSemantic cache on the {split} half: {n_para} paraphrases, {len(rows) - n_para} near-misses"
    )
    print("  (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")")
    print("threshold   paraphrases answered   near-misses wrongly answered")
    full: Verifier = lambda q, s: guard(q, s) is None
    for t in THRESHOLDS:
        para, near = _rates(rows, cosines, t, full)
        mark = "  <- default" if abs(t - DEFAULT_THRESHOLD) < 1e-9 else ""
        print(f"  {t:.2f}      {para:8.1%}               {near:8.2%}{mark}")
    print(f"each piece at the default threshold {DEFAULT_THRESHOLD:.2f} (and at 0.90):")
    pieces: list[tuple[str, Verifier]] = [
        ("cosine only", lambda q, s: True),
        ("+ word-list guard", _words_only),
        ("+ all structural checks (default set)", full),
    ]
    for name in DEFAULT_CHECKS:
        rest = tuple(c for c in DEFAULT_CHECKS if c != name)
        pieces.append(
            (
                f"  without '{name}'",
                lambda q, s, r=rest: _words_only(q, s) and not difference(q, s, r),
            )
        )
    for name in set(CHECKS) - set(DEFAULT_CHECKS):
        extra = (*DEFAULT_CHECKS, name)
        pieces.append(
            (
                f"  with '{name}' too",
                lambda q, s, e=extra: _words_only(q, s) and not difference(q, s, e),
            )
        )
    for name, verifier in pieces:
        (p1, n1), (p2, n2) = (_rates(rows, cosines, t, verifier) for t in (DEFAULT_THRESHOLD, 0.90))
        print(f"  {name:<40} {p1:6.1%} / {n1:6.2%}    ({p2:6.1%} / {n2:6.2%})")


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate the classifier and semantic cache.")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--only", choices=("classifier", "semantic"))
    args = parser.parse_args()
    if args.only != "semantic":
        classifier_report(args.split)
    if args.only != "classifier":
        semantic_report(args.split)


if __name__ == "__main__":
    main()
