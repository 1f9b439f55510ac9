"""Provider-key encryption: round trips, tamper and context binding, master-key parsing."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from origin.settings import Secret, Settings
from origin.tenancy.crypto import (
    DecryptionFailed,
    KeyBox,
    MasterKeyError,
    generate_master_key,
    is_legacy,
    legacy_context,
    load_or_create_master_key,
    master_key_from,
    provider_key_context,
)

RAW = bytes(range(32))
BOX = KeyBox(RAW)


@given(plaintext=st.text(max_size=300), context=st.text(max_size=80))
def test_round_trip_any_text(plaintext: str, context: str) -> None:
    assert BOX.decrypt(BOX.encrypt(plaintext, context), context).reveal() == plaintext


@given(plaintext=st.text(min_size=4, max_size=100))
def test_ciphertext_never_contains_the_plaintext(plaintext: str) -> None:
    token = BOX.encrypt(plaintext, "p:openai")
    raw = base64.b64decode(token)
    assert plaintext not in token
    assert plaintext.encode() not in raw


def test_each_encryption_uses_a_fresh_nonce() -> None:
    assert BOX.encrypt("sk-same", "p:openai") != BOX.encrypt("sk-same", "p:openai")


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.b64decode(token))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


CONTEXT = provider_key_context("proj-a", "openai", "openai", None)
GOOD = BOX.encrypt("sk-live-123", CONTEXT)


def _legacy(plaintext: str, context: str) -> str:
    """A version 1 token, sealed as releases before provider and base URL were bound did."""
    nonce = os.urandom(12)
    aad = b"prism/provider-key/v1:" + context.encode()
    return base64.b64encode(
        b"\x01" + nonce + AESGCM(RAW).encrypt(nonce, plaintext.encode(), aad)
    ).decode()


LEGACY = _legacy("sk-old-456", "proj-a:openai")


@pytest.mark.parametrize(
    ("token", "context", "box"),
    [
        pytest.param(
            GOOD, provider_key_context("proj-b", "openai", "openai", None), BOX, id="other-project"
        ),
        pytest.param(
            GOOD, provider_key_context("proj-a", "openai-2", "openai", None), BOX, id="other-name"
        ),
        # Where the key is sent is bound too: a row pointed elsewhere no longer decrypts.
        pytest.param(
            GOOD, provider_key_context("proj-a", "openai", "groq", None), BOX, id="other-provider"
        ),
        pytest.param(
            GOOD,
            provider_key_context("proj-a", "openai", "openai", "https://evil.example/v1"),
            BOX,
            id="other-base-url",
        ),
        pytest.param(_flip(GOOD, 0), CONTEXT, BOX, id="version-byte"),
        pytest.param(_flip(GOOD, 5), CONTEXT, BOX, id="nonce"),
        pytest.param(_flip(GOOD, 20), CONTEXT, BOX, id="ciphertext"),
        pytest.param(_flip(GOOD, -1), CONTEXT, BOX, id="tag"),
        pytest.param(GOOD[:-8], CONTEXT, BOX, id="truncated"),
        pytest.param("not base64 at all!", CONTEXT, BOX, id="not-base64"),
        pytest.param("", CONTEXT, BOX, id="empty"),
        pytest.param(GOOD, CONTEXT, KeyBox(os.urandom(32)), id="other-master-key"),
        # A version 1 token opens only with its legacy context given explicitly.
        pytest.param(LEGACY, CONTEXT, BOX, id="legacy-without-legacy-context"),
    ],
)
def test_decrypt_refuses(token: str, context: str, box: KeyBox) -> None:
    with pytest.raises(DecryptionFailed):
        box.decrypt(token, context)


def test_decrypt_returns_a_secret_that_hides_itself() -> None:
    secret = BOX.decrypt(GOOD, CONTEXT)
    assert secret.reveal() == "sk-live-123"
    assert "sk-live" not in repr(secret) + str(secret)
    assert "sk-live" not in repr(BOX)


def test_version_2_tokens_ignore_the_legacy_context() -> None:
    # A version 2 token rewritten to claim version 1 must not open under project:name alone.
    downgraded = base64.b64encode(b"\x01" + base64.b64decode(GOOD)[1:]).decode()
    with pytest.raises(DecryptionFailed):
        BOX.decrypt(downgraded, CONTEXT, legacy_context("proj-a", "openai"))
    assert BOX.decrypt(GOOD, CONTEXT, legacy_context("proj-a", "openai")).reveal() == "sk-live-123"
    assert not is_legacy(GOOD)


def test_legacy_tokens_open_under_their_own_context_once() -> None:
    assert is_legacy(LEGACY)
    secret = BOX.decrypt(LEGACY, CONTEXT, legacy_context("proj-a", "openai"))
    assert secret.reveal() == "sk-old-456"
    with pytest.raises(DecryptionFailed):
        BOX.decrypt(LEGACY, CONTEXT, legacy_context("proj-b", "openai"))


@given(
    st.lists(st.text(max_size=12), min_size=4, max_size=4),
    st.lists(st.text(max_size=12), min_size=4, max_size=4),
)
def test_contexts_are_unambiguous(a: list[str], b: list[str]) -> None:
    """Different (project, name, provider, base URL) never give the same associated data."""
    ca = provider_key_context(a[0], a[1], a[2], a[3] or None)
    cb = provider_key_context(b[0], b[1], b[2], b[3] or None)
    assert (ca == cb) == ([*a[:3], a[3] or ""] == [*b[:3], b[3] or ""])


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode().rstrip("="),
        RAW.hex(),
        RAW.hex().upper(),
        f"  {RAW.hex()}\n",
    ],
)
def test_master_key_accepts_base64_and_hex(text: str) -> None:
    assert master_key_from(text) == RAW
    assert master_key_from(Secret(text)) == RAW
    assert master_key_from(Settings(master_key=Secret(text))) == RAW


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        base64.b64encode(os.urandom(16)).decode(),
        os.urandom(16).hex(),
        "z" * 64,
        base64.b64encode(os.urandom(33)).decode(),
    ],
)
def test_master_key_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(MasterKeyError, match="PRISM_MASTER_KEY") as info:
        master_key_from(text)
    if len(text.strip()) > 3:
        assert text.strip() not in str(info.value)


def test_keybox_wants_exactly_32_bytes() -> None:
    with pytest.raises(MasterKeyError):
        KeyBox(os.urandom(16))


def test_generated_master_keys_are_usable_and_distinct() -> None:
    first, second = generate_master_key(), generate_master_key()
    assert first != second
    assert len(master_key_from(first)) == 32


def test_master_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "master.key"
    created = load_or_create_master_key(path)
    again = load_or_create_master_key(path)
    assert created.reveal() == again.reveal()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(master_key_from(created)) == 32


def test_a_corrupt_master_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("garbage\n")
    with pytest.raises(MasterKeyError):
        load_or_create_master_key(path)
    assert path.read_text() == "garbage\n"
