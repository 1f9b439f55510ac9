"""The one settings object: every variable parsed and typed, .env under the environment,
a clear error naming the variable, secrets masked, and every variable in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from origin.admin.cli import main
from origin.envfile import EnvFileError, read_env_file
from origin.settings import ROOT, VARIABLES, Secret, Settings, SettingsError
from origin.tenancy.crypto import generate_master_key


def test_defaults_when_nothing_is_set() -> None:
    assert Settings.from_env({}) == Settings()


def test_values_are_typed() -> None:
    s = Settings.from_env(
        {
            "PRISM_PORT": "9001",
            "PRISM_TOTAL_TIMEOUT_S": "12.5",
            "PRISM_CACHE": "off",
            "PRISM_CACHE_REDIS_TIMEOUT_MS": "20",
            "SUPABASE_URL": "https://abc.supabase.co/",
            "PRISM_DATA_DIR": "/tmp/prism-x",
            "PRISM_LOG_FORMAT": "JSON",
            "PRISM_ADMIN_TOKEN": "tok",
        }
    )
    assert (s.port, s.total_timeout_s, s.cache_enabled) == (9001, 12.5, False)
    assert s.cache_redis_timeout_s == pytest.approx(0.02)
    assert s.supabase_url == "https://abc.supabase.co"
    assert s.data_dir == Path("/tmp/prism-x")
    assert s.log_format == "json"
    assert isinstance(s.admin_token, Secret) and s.admin_token.reveal() == "tok"


@pytest.mark.parametrize(
    "name, value",
    [
        ("PRISM_PORT", "eighty"),
        ("PRISM_MAX_BODY_BYTES", "-1"),
        ("PRISM_TOTAL_TIMEOUT_S", "soon"),
        ("PRISM_FIRST_BYTE_TIMEOUT_S", "nan"),
        ("PRISM_CACHE", "maybe"),
        ("SUPABASE_URL", "localhost:54321"),
        ("SUPABASE_URL", "postgresql://db.example.com/postgres"),
        ("REDIS_URL", "redis://:pw@[bad"),
        ("REDIS_URL", "redis://cache.example.com:99999"),
        ("REDIS_URL", "https://cache.example.com"),
        ("REDIS_URL", "redis://cache.example.com/zero"),
        ("UPSTASH_VECTOR_REST_URL", "vector.example.com"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317"),
        ("PRISM_MASTER_KEY", "tooshort"),
        ("PRISM_LOG_FORMAT", "xml"),
        ("PRISM_LOG_LEVEL", "loud"),
        ("PRISM_CACHE_TOP_K", "3.5"),
        ("PRISM_SEMANTIC_VERIFIER_ENGINE", "torch"),
        ("PRISM_SEMANTIC_VERIFIER_MEMORY_MB", "-8"),
    ],
)
def test_a_malformed_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "prism.env"
    env_file.write_text(
        "# local settings\n"
        "export PRISM_PORT=9100\n"
        "PRISM_HOST='0.0.0.0'\n"
        'PRISM_ADMIN_TOKEN="a b#c"\n'
        "PRISM_LOG_LEVEL=debug  # chatty\n"
    )
    monkeypatch.setenv("PRISM_ENV_FILE", str(env_file))
    monkeypatch.setenv("PRISM_HOST", "127.0.0.2")
    s = Settings.from_env()
    assert (s.port, s.host, s.log_level) == (9100, "127.0.0.2", "DEBUG")
    assert s.admin_token.reveal() == "a b#c"


def test_a_broken_env_file_line_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PRISM_PORT=1\nthis is not a variable\n")
    with pytest.raises(EnvFileError, match=r"\.env:2"):
        read_env_file(env_file)
    assert read_env_file(tmp_path / "missing.env") == {}


def test_prism_config_masks_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRISM_ENV_FILE", str(tmp_path / "none.env"))
    secrets = {
        "PRISM_ADMIN_TOKEN": "admin-secret-value",
        "SUPABASE_SERVICE_KEY": "service-secret-value",
        "PRISM_MASTER_KEY": generate_master_key(),  # a malformed one is refused, not shown
        "PRISM_METRICS_TOKEN": "metrics-secret-value",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PRISM_PORT", "8123")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == {v.name for v in VARIABLES}
    assert lines["PRISM_PORT"].split()[1] == "8123"
    for name, value in secrets.items():
        assert value not in out
        assert lines[name].split()[1] == "***"


def test_prism_config_masks_a_password_inside_a_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRISM_ENV_FILE", str(tmp_path / "none.env"))
    urls = {
        "REDIS_URL": ("rediss://default:hunter2redis@cache.example:6379", "hunter2redis"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": ("https://otel:otpw@collector.example", "otpw"),
        "UPSTASH_VECTOR_REST_URL": ("https://u:pw123@vec.example", "pw123"),
    }
    for name, (value, _) in urls.items():
        monkeypatch.setenv(name, value)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert lines["REDIS_URL"] == "rediss://default:***@cache.example:6379"
    assert lines["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otel:***@collector.example"
    for _, password in urls.values():
        assert password not in out


def test_prism_config_masks_a_password_given_as_a_query_parameter(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRISM_ENV_FILE", str(tmp_path / "none.env"))
    # redis-py reads a password from the query as well as from the userinfo.
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/0?password=hunter2query")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example/?x=1&token=tk99")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert lines["REDIS_URL"] == "redis://cache.example:6379/0?password=***"
    assert lines["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://collector.example/?x=1&token=***"
    assert "hunter2query" not in out and "tk99" not in out


def test_prism_config_names_a_malformed_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRISM_PORT", "http")
    assert main(["config"]) == 2
    assert "PRISM_PORT" in capsys.readouterr().err


def test_every_variable_the_code_reads_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section[: section.index("\n## ", 5)]))
    read_by_code = {v.name for v in VARIABLES}
    for source in [*ROOT.glob("origin/**/*.py"), *ROOT.glob("infra/local/*.py")]:
        text = source.read_text()
        read_by_code |= set(re.findall(r"environ(?:\.get)?[\[(]\"([A-Z][A-Z0-9_]+)\"", text))
    assert sorted(read_by_code - documented) == []


def _pasted_back(s: Settings) -> Settings:
    """What `prism config` shows, fed back as variables (secrets aside: they print as ***)."""
    secret_names = {v.name for v in VARIABLES if isinstance(getattr(s, v.field), Secret)}
    shown = {name: value for name, value, _ in s.describe() if name not in secret_names}
    return Settings.from_env({k: v for k, v in shown.items() if v})


def test_prism_config_shows_each_value_as_its_variable_is_written() -> None:
    # A user copies a line of `prism config` into .env: it must mean the same thing (a timeout
    # in ms shown in seconds would become a thousand times shorter).
    s = Settings.from_env(
        {
            "PRISM_CACHE_REDIS_TIMEOUT_MS": "20",
            "PRISM_CACHE_VECTOR_TIMEOUT_MS": "150",
            "PRISM_CACHE_COOLDOWN_MS": "2500",
            "PRISM_UPSTREAM_ALLOWLIST": "127.0.0.1:54325, 10.0.0.0/8",
            "PRISM_SEMANTIC_CACHE": "off",
            "PRISM_TOTAL_TIMEOUT_S": "12.5",
            "PRISM_PORT": "9001",
        }
    )
    assert _pasted_back(s) == s
    assert _pasted_back(Settings()) == Settings()
    shown = {name: value for name, value, _ in s.describe()}
    assert shown["PRISM_CACHE_REDIS_TIMEOUT_MS"] == "20"
    assert shown["PRISM_UPSTREAM_ALLOWLIST"] == "127.0.0.1:54325,10.0.0.0/8"
    assert (shown["PRISM_CACHE"], shown["PRISM_SEMANTIC_CACHE"]) == ("on", "off")
