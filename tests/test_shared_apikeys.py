"""API key format, stored hash and Bearer parsing."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.apikeys import (
    DISPLAY_LENGTH,
    PREFIX,
    bearer_token,
    display_prefix,
    generate_api_key,
    hash_api_key,
)

KEY = PREFIX + "A" * 43


def test_generated_keys_are_unique_and_url_safe() -> None:
    keys = {generate_api_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(re.fullmatch(r"prism_sk_[A-Za-z0-9_-]{43}", k) for k in keys)


def test_hash_is_sha256_hex_of_the_key() -> None:
    assert hash_api_key(KEY) == hashlib.sha256(KEY.encode()).hexdigest()
    assert hash_api_key(KEY) != hash_api_key(KEY + "B")
    assert display_prefix(KEY) == KEY[:DISPLAY_LENGTH] == "prism_sk_AAAAAA"


BEARER: list[tuple[str, str | None, str | None]] = [
    ("missing", None, None),
    ("empty", "", None),
    ("bearer", f"Bearer {KEY}", KEY),
    ("lowercase scheme", f"bearer {KEY}", KEY),
    ("padded", f"  Bearer   {KEY}  ", KEY),
    ("basic scheme", f"Basic {KEY}", None),
    ("no scheme", KEY, None),
    ("other prefix", "Bearer sk-openai-123", None),
    ("scheme only", "Bearer", None),
    ("too long", f"Bearer {KEY}{'A' * 200}", None),
]


@pytest.mark.parametrize(("header", "key"), [b[1:] for b in BEARER], ids=[b[0] for b in BEARER])
def test_bearer_token(header: str | None, key: str | None) -> None:
    assert bearer_token(header) == key


@settings(max_examples=300, deadline=None)
@given(st.none() | st.text(max_size=300))
def test_bearer_token_is_total(header: str | None) -> None:
    token = bearer_token(header)
    assert token is None or (token.startswith(PREFIX) and len(token) <= 200)
    if token is not None:
        assert isinstance(hash_api_key(token), str)
