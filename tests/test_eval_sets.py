"""The labelled evaluation sets: rebuilt from their sources, split before tuning, halves disjoint."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import build_sets

DATA = Path(build_sets.__file__).resolve().parent / "data"


def _rows(name: str, split: str) -> list[dict[str, str]]:
    lines = (DATA / f"{name}_{split}.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("name", ["semantic", "prompts"])
def test_committed_halves_are_exactly_what_the_sources_build(name: str) -> None:
    built = build_sets.semantic_pairs() if name == "semantic" else build_sets.prompts()
    for split in build_sets.SPLITS if name == "semantic" else build_sets.PROMPT_SPLITS:
        want = [r for r in built if r["split"] == split]
        got = [{k: v for k, v in r.items() if k != "id"} for r in _rows(name, split)]
        assert got == want, f"{name}_{split}.jsonl is stale: run python -m bench.build_sets"


def test_no_question_appears_in_both_semantic_halves() -> None:
    def texts(split: str) -> set[str]:
        return {t for r in _rows("semantic", split) for t in (r["stored"], r["request"])}

    assert not texts("dev") & texts("test")


def test_no_prompt_appears_in_both_halves() -> None:
    dev = {r["prompt"] for r in _rows("prompts", "dev")}
    assert not dev & {r["prompt"] for r in _rows("prompts", "test")}


def test_unseen_prompts_are_in_neither_half() -> None:
    # The shipped model is measured on them as on data nobody trained or tuned on.
    unseen = _rows("prompts", "unseen")
    halves = {r["prompt"] for split in build_sets.SPLITS for r in _rows("prompts", split)}
    assert len(unseen) >= 1000
    assert not halves & {r["prompt"] for r in unseen}


def test_sets_are_as_large_and_varied_as_the_issue_asks() -> None:
    pairs = _rows("semantic", "dev") + _rows("semantic", "test")
    assert len(pairs) >= 1500
    assert len({r["domain"] for r in pairs}) >= 12
    kinds = Counter(r["kind"] for r in pairs if r["label"] == "near_miss")
    for kind in ("role", "operator", "unit", "intent", "compound", "number", "negation"):
        assert kinds[kind] >= 10, kind
    prompts = _rows("prompts", "dev") + _rows("prompts", "test")
    assert len(prompts) >= 2000
    labels = Counter(r["label"] for r in prompts)
    assert all(labels[t] >= 300 for t in ("simple", "code", "reasoning", "complex"))
    composed = sum(r["source"].startswith("composed") for r in prompts)
    assert composed < len(prompts) / 3  # templates stay a minority
