"""Rows as aligned columns for a terminal: what every `prism ... list` prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO


def print_table(
    rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    if not rows:
        print("(none)", file=out)
        return
    cells = [
        [str(row.get(key) if row.get(key) is not None else "-") for key, _ in columns]
        for row in rows
    ]
    widths = [
        max(len(title), *(len(line[i]) for line in cells)) for i, (_, title) in enumerate(columns)
    ]
    for line in [[title for _, title in columns], *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip(), file=out)
