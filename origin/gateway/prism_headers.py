"""A request's X-Prism-* headers as a small case-insensitive mapping, for `parse_options`.

`parse_options` looks up a dozen header names; on Starlette's `Headers` each lookup scans
every header of the request. One pass here keeps only ours, so each lookup is a dict get.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

_PREFIX = b"x-prism-"
_AUTHORIZATION = b"authorization"


class PrismHeaders(Mapping[str, str]):
    """The X-Prism-* headers of a request, looked up by any case; the first of repeats wins,
    as with Starlette's `Headers.get`."""

    __slots__ = ("_values", "authorization")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        values: dict[str, str] = {}
        # The same pass finds the credentials, which the endpoint needs first.
        self.authorization: str | None = None
        for name, value in raw:
            if name.startswith(_PREFIX):  # ASGI servers lower-case header names
                values.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            elif name == _AUTHORIZATION and self.authorization is None:
                self.authorization = value.decode("latin-1")
        self._values = values

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._values.get(name.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
