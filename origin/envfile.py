"""Reading a `.env` file: `NAME=value` lines, as docker and most tools write them.

Blank lines and `#` comments are skipped, an `export ` prefix is allowed, a value may be
quoted with ' or " (a quoted value is taken as it is; an unquoted one loses a trailing
` # comment`). Nothing is expanded and the process environment is never changed.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(ValueError):
    pass


def read_env_file(path: Path) -> dict[str, str]:
    """The file's variables, or {} when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise EnvFileError(f"{path}:{number}: expected NAME=value")
        values[name] = _value(value.strip())
    return values


def _value(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text.split(" #", 1)[0].rstrip()
