"""Builds the labelled evaluation sets from the hand-written sources, split before any tuning.

Sources (bench/data/semantic/*.txt, bench/data/prompts/*.txt) are written by hand. This script
turns them into five files, each line one labelled example, and is deterministic: the split of
every example is a function of its own text (or its group's), so adding a source line never
moves another example between halves.

    bench/data/semantic_dev.jsonl  semantic_test.jsonl   stored question / request / label
    bench/data/prompts_dev.jsonl   prompts_test.jsonl    prompt / task type
    bench/data/prompts_unseen.jsonl                      prompts the shipped model never saw

Semantic pairs are split by GROUP (a stored question with its paraphrases and near-misses), so
no wording seen in development reappears in the test half. Composed prompts (pasted material +
an ask, or a code snippet + an ask) are kept only when both parts belong to the same half.

    .venv/bin/python -m bench.build_sets [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SPLITS = ("dev", "test")
# Prompts no shipped model has trained on, kept whole and out of both halves: the nearest thing
# to an independent set (bench/data/prompts/unseen/). Batches 51-55 were written after the model
# of 2026-12-07 12:00 was trained; the next one learned from batches 56-63 and not from these.
# Move them into the halves (bench/data/prompts/) only once newer unseen batches replace them.
UNSEEN = "unseen"
PROMPT_SPLITS = (*SPLITS, UNSEEN)
COMPOSED_KEEP = 8  # of every 8 same-half combinations of context and ask, by hash
NEAR_MISS = re.compile(r"\[(\w+)\]\s*(.+)")


def split_of(key: str) -> str:
    return SPLITS[hashlib.sha256(key.encode()).digest()[0] & 1]


def _hash8(key: str) -> int:
    return hashlib.sha256(key.encode()).digest()[1] % 8


def _lines(path: Path) -> Iterator[str]:
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.rstrip()


@dataclass
class _Group:
    domain: str
    stored: str
    paraphrases: list[str]
    near_misses: list[tuple[str, str]]  # (class, text)


def _groups(path: Path) -> Iterator[_Group]:
    domain, group = "", None
    for line in _lines(path):
        tag, text = line[:1], line[1:].strip()
        if tag == "@":
            domain = text
        elif tag == "=":
            if group:
                yield group
            group = _Group(domain, text, [], [])
        elif tag == "~" and group:
            group.paraphrases.append(text)
        elif tag == "!" and group and (m := NEAR_MISS.fullmatch(text)):
            group.near_misses.append((m.group(1), m.group(2)))
        else:
            raise ValueError(f"{path.name}: cannot read {line!r}")
    if group:
        yield group


def semantic_pairs() -> list[dict[str, str]]:
    """Every stored/request pair of each group: paraphrases of one another, and near-misses."""
    rows: list[dict[str, str]] = []
    for path in sorted((DATA / "semantic").glob("*.txt")):
        for g in _groups(path):
            split = split_of(g.stored)
            same = [g.stored, *g.paraphrases]
            for a, b in itertools.combinations(same, 2):
                rows.append(_pair(split, g, "paraphrase", "paraphrase", a, b))
            for (kind, miss), side in itertools.product(g.near_misses, same):
                rows.append(_pair(split, g, "near_miss", kind, side, miss))
    return rows


def _pair(split: str, g: _Group, label: str, kind: str, a: str, b: str) -> dict[str, str]:
    # Which side was stored first is arbitrary; the hash decides, so both orders occur.
    stored, request = (a, b) if _hash8(a + "\x00" + b) & 1 else (b, a)
    return {
        "split": split,
        "domain": g.domain,
        "label": label,
        "kind": kind,
        "stored": stored,
        "request": request,
    }


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n")


def prompts() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    src = DATA / "prompts"
    for name in ("simple", "code", "reasoning", "complex", "more_simple", "more_code"):
        label = name.removeprefix("more_")
        rows += [_prompt(label, name, t) for t in map(_unescape, _lines(src / f"{name}.txt"))]
    for name in ("more_reasoning", "more_complex"):
        label = name.removeprefix("more_")
        rows += [_prompt(label, name, t) for t in map(_unescape, _lines(src / f"{name}.txt"))]
    for name in ("multilingual", "hard", *(path.stem for path in _batches(src))):
        for line in _lines(src / f"{name}.txt"):
            label, text = line.split("\t", 1)
            rows.append(_prompt(label, name, _unescape(text)))
    rows += _composed(src)
    # Common questions recur word for word between writers ("Is a tomato a fruit or a
    # vegetable?"): one already in a half, or already read, is not unseen and is left out.
    seen = {r["prompt"] for r in rows}
    for path in _batches(src / UNSEEN):
        for line in _lines(path):
            label, text = line.split("\t", 1)
            text = _unescape(text)
            if text not in seen:
                seen.add(text)
                rows.append(_prompt(label, path.stem, text, UNSEEN))
    return rows


def _batches(folder: Path) -> list[Path]:
    """The labelled batch files in a folder, in the order they were written (batch3 ... batch50)."""
    return sorted(folder.glob("batch*.txt"), key=lambda path: int(path.stem.removeprefix("batch")))


def _prompt(label: str, source: str, text: str, split: str | None = None) -> dict[str, str]:
    return {"split": split or split_of(text), "label": label, "source": source, "prompt": text}


def _composed(src: Path) -> list[dict[str, str]]:
    """Pasted material followed or preceded by an ask: long inputs whose task is the ask's."""
    rows: list[dict[str, str]] = []
    contexts = [_unescape(t) for t in _lines(src / "contexts.txt")]
    asks = [tuple(line.split("\t", 1)) for line in _lines(src / "asks.txt")]
    for ctx, (label, ask) in itertools.product(contexts, asks):
        split = split_of(ctx)
        key = ctx + ask
        if split != split_of(ask) or _hash8(key) >= COMPOSED_KEEP:
            continue
        text = f"{ctx}\n\n{ask}" if _hash8(key + "order") < 6 else f"{ask}\n\n{ctx}"
        rows.append(_prompt(label, "composed-context", text, split))
    snippets = [_unescape(t) for t in _lines(src / "snippets.txt")]
    for code, ask in itertools.product(snippets, _lines(src / "code_asks.txt")):
        split = split_of(code)
        if split != split_of(ask):
            continue
        shape = _hash8(code + ask)
        text = (
            f"{ask}\n\n```\n{code}\n```"
            if shape < 3
            else f"{code}\n\n{ask}"
            if shape < 6
            else f"{ask}\n{code}"
        )
        rows.append(_prompt("code", "composed-code", text, split))
    return rows


def _write(
    name: str, rows: list[dict[str, str]], check: bool, splits: tuple[str, ...] = SPLITS
) -> bool:
    ok = True
    for split in splits:
        path = DATA / f"{name}_{split}.jsonl"
        part = [{"id": i + 1, **r} for i, r in enumerate(r for r in rows if r["split"] == split)]
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part)
        if check:
            ok = ok and path.exists() and path.read_text("utf-8") == text
        else:
            path.write_text(text, "utf-8")
        counts = Counter(r["label"] for r in part)
        print(
            f"{path.name}: {len(part)} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the split evaluation sets.")
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    fresh = _write("semantic", semantic_pairs(), args.check)
    fresh = _write("prompts", prompts(), args.check, PROMPT_SPLITS) and fresh
    if args.check and not fresh:
        sys.exit("bench/data/*_{dev,test,unseen}.jsonl are stale: run python -m bench.build_sets")


if __name__ == "__main__":
    main()
