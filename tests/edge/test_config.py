"""Reading the Worker's bindings into an EdgeConfig."""

from __future__ import annotations

import pytest

from edge.config import BINDINGS, DEFAULT_ORIGIN_TIMEOUT_S, ConfigError, EdgeConfig


def config(**env: str) -> EdgeConfig:
    return EdgeConfig.from_lookup(env.get)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://origin.example.com/", "https://origin.example.com"),
        ("  https://origin.example.com/base/ ", "https://origin.example.com/base"),
    ],
)
def test_origin_url_is_normalised(origin: str, expected: str) -> None:
    assert config(ORIGIN_URL=origin).origin_url == expected


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"ORIGIN_URL": "   "},
        {"ORIGIN_URL": "origin.example.com"},
        {"ORIGIN_URL": "ftp://origin.example.com"},
        {"ORIGIN_URL": "https://origin.example.com/?x=1"},
        {"ORIGIN_URL": "https://o.example.com", "ORIGIN_TIMEOUT_S": "soon"},
        {"ORIGIN_URL": "https://o.example.com", "ORIGIN_TIMEOUT_S": "0"},
        {"ORIGIN_URL": "https://o.example.com", "ORIGIN_TIMEOUT_S": "inf"},
        {"ORIGIN_URL": "https://o.example.com", "ORIGIN_TIMEOUT_S": "nan"},
    ],
)
def test_bad_bindings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        config(**env)


def test_every_binding_is_read_and_secrets_stay_out_of_repr() -> None:
    env = {name: f"value-{name.lower()}" for name in BINDINGS}
    env |= {"ORIGIN_URL": "https://o.example.com", "ORIGIN_TIMEOUT_S": "2.5"}
    read = EdgeConfig.from_lookup(env.get)
    assert (read.origin_timeout_s, read.supabase_url) == (2.5, "value-supabase_url")
    assert (read.redis_url, read.redis_token) == (
        "value-upstash_redis_rest_url",
        "value-upstash_redis_rest_token",
    )
    assert (read.vector_url, read.vector_token) == (
        "value-upstash_vector_rest_url",
        "value-upstash_vector_rest_token",
    )
    assert read.supabase_edge_key == "value-supabase_edge_key"
    assert read.supabase_anon_key == "value-supabase_anon_key"
    secrets = ("SUPABASE_EDGE_KEY", "UPSTASH_REDIS_REST_TOKEN", "UPSTASH_VECTOR_REST_TOKEN")
    for secret in secrets:
        assert env[secret] not in repr(read)


def test_optional_bindings_default_to_none() -> None:
    read = config(ORIGIN_URL="https://o.example.com")
    assert read.origin_timeout_s == DEFAULT_ORIGIN_TIMEOUT_S
    assert read.supabase_url is None and read.redis_token is None
