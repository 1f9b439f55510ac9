"""Both smart layers on the stored labelled sets: the classifier's confusion matrix and the
semantic cache's hit / false-hit curve, on the test half unless told otherwise.

The sets are built by bench.build_sets and split before anything was tuned; the classifier was
trained (bench.train_classifier) and the verifier's checks chosen on the dev half only, so the
test half is the honest number. Prints:
  * classifier: accuracy, per-type recall, the confusion matrix, confidence vs. accuracy (is
    the low-confidence escalation firing when the model is actually unsure?), CPU per request;
  * semantic cache: paraphrases answered and near-misses wrongly answered by the whole
    pipeline (guard; the strict cosine path; the origin's pair verifier below it), over the
    client's threshold and over the verifier's acceptance probability; each piece's
    contribution at the default (verifier variants retrained on dev without a feature group);
    the verifier's wall time per lookup.

    .venv/bin/python -m bench.eval [--split test|dev|unseen] [--only classifier|semantic]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.train_verifier import GATE, Pairs, choose_threshold, fit, load_pairs, out_of_fold, rates
from infra.local.embedding import ENGINES, MiniLM
from origin.cache.pair_verifier import DEFAULT_ENGINE, FEATURES, PairModel, PairVerifier
from origin.routing.classifier import TASK_TYPES, classify
from origin.routing.router import LOW_CONFIDENCE
from shared.options import DEFAULT_THRESHOLD

DATA = Path(__file__).resolve().parent / "data"
THRESHOLDS = [0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99]
LATENCY_ROUNDS = 40


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
    part = "prompts it never saw" if split == "unseen" else f"{split} half"
    print(f"\nClassifier on the {part}: {len(rows)} prompts, accuracy {right / len(rows):.1%}")
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


PROBABILITIES = [0.30, 0.40, 0.50, 0.55, 0.58, 0.60, 0.65, 0.70, 0.80, 0.90]
# Feature groups of the pair verifier, for each one's contribution (retrained on dev without it).
PIECES = {
    "sentence cosine": ("cosine",),
    "alignment (mean, min)": ("align_mean", "align_min"),
    "unmatched content pieces": (
        "unmatched",
        "unmatched_gap",
        "unmatched_pairs",
        "unmatched_min",
        "unmatched_low2",
    ),
    "order inversions": ("inversions",),
    "shared ratio": ("shared_ratio",),
}


def _pipeline(
    pairs: Pairs,
    probability: np.ndarray,
    threshold: float,
    strict: float = DEFAULT_THRESHOLD,
    gate: float = GATE,
) -> tuple[float, float]:
    """(paraphrases answered, near-misses answered): guard, then the strict cosine path or
    the verifier above its gate, as the origin runs them."""
    hits = pairs.guarded & (
        (pairs.cosine >= strict) | ((pairs.cosine >= gate) & (probability >= threshold))
    )
    return rates(pairs, hits)


def _retrained(dev: Pairs, test: Pairs, columns: list[int]) -> tuple[np.ndarray, float]:
    """A verifier on these feature columns only, trained and thresholded on dev as the shipped
    one is: its test probabilities and its dev-chosen threshold."""
    threshold = choose_threshold(dev, out_of_fold(dev, columns))
    model = fit(dev.features[dev.guarded][:, columns], dev.paraphrase[dev.guarded].astype(float))
    return model.probability(test.features[:, columns]), threshold


def semantic_report(split: str, engine: str = DEFAULT_ENGINE) -> None:
    encoder = MiniLM.load(engine=engine)
    index = None if encoder.exact else MiniLM.load()  # the vector index scores in float32
    pairs, dev = load_pairs(split, encoder, index), load_pairs("dev", encoder, index)
    shipped = PairModel.load()
    probability = shipped.probability(pairs.features)
    kinds = Counter(k for k, p in zip(pairs.kind, pairs.paraphrase) if not p)
    n_para = int(pairs.paraphrase.sum())
    print(
        f"\nSemantic cache on the {split} half: {n_para} paraphrases, "
        f"{len(pairs.kind) - n_para} near-misses (verifier engine {engine})"
    )
    print("  (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")")
    print(f"over the client's threshold (the strict path; verifier at {shipped.threshold:.2f}):")
    print("threshold   paraphrases answered   near-misses wrongly answered")
    for t in THRESHOLDS:
        para, near = _pipeline(pairs, probability, shipped.threshold, strict=t, gate=shipped.gate)
        mark = "  <- default" if abs(t - DEFAULT_THRESHOLD) < 1e-9 else ""
        print(f"  {t:.2f}      {para:8.1%}               {near:8.2%}{mark}")
    print(f"over the verifier's acceptance probability (strict path at {DEFAULT_THRESHOLD:.2f}):")
    for t in sorted({*PROBABILITIES, shipped.threshold}):
        para, near = _pipeline(pairs, probability, t, gate=shipped.gate)
        mark = "  <- shipped" if abs(t - shipped.threshold) < 1e-9 else ""
        print(f"  {t:.2f}      {para:8.1%}               {near:8.2%}{mark}")
    print(f"each piece at the default threshold {DEFAULT_THRESHOLD:.2f}:")
    nothing = np.zeros(len(pairs.kind))
    pieces = [
        ("cosine only", rates(pairs, pairs.cosine >= DEFAULT_THRESHOLD)),
        ("+ guard (words and structure)", _pipeline(pairs, nothing, 2.0)),
        (
            "+ pair verifier (shipped)",
            _pipeline(pairs, probability, shipped.threshold, gate=shipped.gate),
        ),
    ]
    for name, group in PIECES.items():
        columns = [i for i, f in enumerate(FEATURES) if f not in group]
        test_p, threshold = _retrained(dev, pairs, columns)
        pieces.append((f"  verifier without {name}", _pipeline(pairs, test_p, threshold)))
    only = [FEATURES.index("cosine")]
    test_p, threshold = _retrained(dev, pairs, only)
    pieces.append(("  verifier on the cosine alone", _pipeline(pairs, test_p, threshold)))
    for name, (para, near) in pieces:
        print(f"  {name:<44} {para:6.1%} / {near:6.2%}")
    _latency(encoder, shipped)


def _latency(encoder: MiniLM, model: PairModel) -> None:
    """The verifier's cost per lookup: a MiniLM pass over the request, plus one over each stored
    candidate the worker has not encoded lately (cold) or none (warm: its encoding is kept)."""
    request = "What's the quickest way to reset the password on my account?"
    stored = ["How do I reset my password?", "password reset steps?", "How to change my login?"]
    warm = PairVerifier(encoder, model)
    for label, k, fresh in (
        ("cold, 1 candidate", 1, True),
        ("cold, 3", 3, True),
        ("warm, 3", 3, False),
    ):
        wall, cpu = [], []
        for _ in range(LATENCY_ROUNDS):
            verifier = PairVerifier(encoder, model) if fresh else warm
            start, start_cpu = time.perf_counter(), time.process_time()
            verifier.accepts(request, stored[:k])
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        wall.sort()
        cpu.sort()
        p50, p95 = wall[len(wall) // 2], wall[int(len(wall) * 0.95)]
        print(
            f"verifier {label:<18} wall p50 {p50:5.1f} ms, p95 {p95:5.1f} ms; "
            f"CPU p50 {cpu[len(cpu) // 2]:5.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate the classifier and semantic cache.")
    parser.add_argument(
        "--split",
        choices=("test", "dev", "unseen"),
        default="test",
        help="unseen: prompts written after the shipped classifier was trained (classifier only)",
    )
    parser.add_argument("--only", choices=("classifier", "semantic"))
    parser.add_argument(
        "--engine",
        choices=[e for e in ENGINES if e != "auto"],
        default=DEFAULT_ENGINE,
        help="the verifier's MiniLM engine (default: the origin's)",
    )
    args = parser.parse_args()
    if args.only != "semantic":
        classifier_report(args.split)
    if args.only != "classifier" and args.split != "unseen":
        semantic_report(args.split, args.engine)


if __name__ == "__main__":
    main()
