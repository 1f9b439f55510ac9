"""A request's X-Prism-* headers as a small case-insensitive mapping, for `parse_options`,
and the options parsed from them, kept per header set.

`parse_options` looks up a dozen header names; on Starlette's `Headers` each lookup scans
every header of the request. One pass here keeps only ours, so each lookup is a dict get.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from shared.options import RequestOptions, parse_options

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

    def key(self) -> tuple[tuple[str, str], ...]:
        """The X-Prism-* headers as they came: what a request's options are parsed from."""
        return tuple(self._values.items())


class OptionsMemo:
    """Parsed options by the X-Prism-* headers they came from.

    A client sends the same few header sets over and over; parsing them (a dozen lookups,
    cleaning, numbers, tags) was about a twentieth of an exact hit's CPU. RequestOptions is
    frozen and nothing changes its tags, so requests with equal headers can share one. A set
    whose headers are long is parsed each time rather than kept, and the memo starts over
    when full, so it holds at most MAX_ENTRIES * MAX_KEY_CHARS characters of keys."""

    MAX_ENTRIES = 1024
    MAX_KEY_CHARS = 512

    def __init__(self) -> None:
        self._parsed: dict[tuple[tuple[str, str], ...], RequestOptions] = {}

    def __call__(self, headers: PrismHeaders) -> RequestOptions:
        key = headers.key()
        found = self._parsed.get(key)
        if found is not None:
            return found
        options = parse_options(headers)  # an InvalidRequest is raised, never kept
        if sum(len(name) + len(value) for name, value in key) <= self.MAX_KEY_CHARS:
            if len(self._parsed) >= self.MAX_ENTRIES:
                self._parsed.clear()
            self._parsed[key] = options
        return options
