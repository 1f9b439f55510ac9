"""Provider-key encryption: round trips, tamper and context binding, master-key parsing."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from origin.settings import Secret, Settings
from origin.tenancy.crypto import (
    DecryptionFailed,
    KeyBox,
    MasterKeyError,
    generate_master_key,
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


GOOD = BOX.encrypt("sk-live-123", provider_key_context("proj-a", "openai"))


@pytest.mark.parametrize(
    ("token", "context", "box"),
    [
        pytest.param(GOOD, "proj-b:openai", BOX, id="other-project"),
        pytest.param(GOOD, "proj-a:openai-2", BOX, id="other-name"),
        pytest.param(_flip(GOOD, 0), "proj-a:openai", BOX, id="version-byte"),
        pytest.param(_flip(GOOD, 5), "proj-a:openai", BOX, id="nonce"),
        pytest.param(_flip(GOOD, 20), "proj-a:openai", BOX, id="ciphertext"),
        pytest.param(_flip(GOOD, -1), "proj-a:openai", BOX, id="tag"),
        pytest.param(GOOD[:-8], "proj-a:openai", BOX, id="truncated"),
        pytest.param("not base64 at all!", "proj-a:openai", BOX, id="not-base64"),
        pytest.param("", "proj-a:openai", BOX, id="empty"),
        pytest.param(GOOD, "proj-a:openai", KeyBox(os.urandom(32)), id="other-master-key"),
    ],
)
def test_decrypt_refuses(token: str, context: str, box: KeyBox) -> None:
    with pytest.raises(DecryptionFailed):
        box.decrypt(token, context)


def test_decrypt_returns_a_secret_that_hides_itself() -> None:
    secret = BOX.decrypt(GOOD, "proj-a:openai")
    assert secret.reveal() == "sk-live-123"
    assert "sk-live" not in repr(secret) + str(secret)
    assert "sk-live" not in repr(BOX)


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
