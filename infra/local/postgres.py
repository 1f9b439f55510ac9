"""A throwaway Postgres cluster on loopback, and the migration runner for infra/migrations."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from infra.local.lifeline import lifeline

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = ROOT / "infra" / "migrations"
MIGRATION_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_]+\.sql$")
OS_USER = "postgres"
PASSWORD = "postgres"
# Unix socket paths are limited to 107 bytes including "/.s.PGSQL.NNNNN"; longer ones stop startup.
MAX_SOCKET_DIR = 85
# Any stable 64-bit key works: it only has to be the same for every concurrent migration runner.
MIGRATION_LOCK_KEY = 0x5052_4953_4D00


def find_bin_dir() -> Path:
    """The newest installed Postgres bin directory, else the one holding pg_ctl on PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found is None:
        raise FileNotFoundError(
            "no Postgres binaries: looked in /usr/lib/postgresql/*/bin and on PATH"
        )
    return Path(found).resolve().parent


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(argv: list[str]) -> list[str]:
    # Postgres refuses to run as root, so as root every binary runs as the postgres OS user.
    return ["runuser", "-u", OS_USER, "--", *argv] if _running_as_root() else argv


def _postgres_can_reach(directory: Path) -> bool:
    probe = subprocess.run(_as_postgres(["test", "-x", str(directory)]), capture_output=True)
    return probe.returncode == 0


def _effective_data_dir(requested: Path) -> Path:
    """Where the cluster really lives: the requested path, or a stable /tmp stand-in for it.

    As root the postgres user must traverse every parent; CI checkouts under private homes fail
    that, so we fall back to /tmp keyed by a hash of the requested path: the same request always
    maps to the same cluster.
    """
    requested = requested.resolve()
    if not _running_as_root():
        return requested
    parent = requested.parent
    parent.mkdir(parents=True, exist_ok=True)
    if _postgres_can_reach(parent):
        return requested
    digest = hashlib.sha256(str(requested).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"prism-pg-{digest}"


class PostgresCluster:
    """One Postgres data directory and the server we start on 127.0.0.1:port."""

    def __init__(self, data_dir: Path, port: int, *, fsync: bool = True) -> None:
        self.requested_dir = Path(data_dir)
        self.data_dir = _effective_data_dir(self.requested_dir)
        self.port = port
        self.fsync = fsync
        self.bin_dir = find_bin_dir()
        self._postmaster: int | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = _as_postgres([str(self.bin_dir / tool), *args])
        result = subprocess.run(argv, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )
        return result

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        if _running_as_root():
            shutil.chown(self.data_dir, OS_USER, OS_USER)

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def ensure_initialised(self) -> None:
        """Run initdb once; later calls find PG_VERSION and leave the cluster alone."""
        if self.is_initialised():
            return
        self._prepare_dir()
        with tempfile.NamedTemporaryFile("w", prefix="prism-pgpass-", delete=False) as pwfile:
            pwfile.write(PASSWORD + "\n")
        try:
            if _running_as_root():
                shutil.chown(pwfile.name, OS_USER, OS_USER)
            flags = ["-N"] if not self.fsync else []
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile.name}",
                *flags,
            )
        finally:
            os.unlink(pwfile.name)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\ninclude_if_exists = 'prism_local.conf'\n")

    def _write_local_conf(self) -> None:
        socket_dir = str(self.data_dir) if len(str(self.data_dir)) <= MAX_SOCKET_DIR else ""
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{socket_dir}'",
            f"fsync = {'on' if self.fsync else 'off'}",
        ]
        if not self.fsync:
            # Test clusters are disposable: trade durability for speed.
            lines += ["synchronous_commit = off", "full_page_writes = off"]
        conf = self.data_dir / "prism_local.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if _running_as_root():
            shutil.chown(conf, OS_USER, OS_USER)

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def start(self, timeout: int = 60) -> PostgresCluster:
        """Start on self.port; a server left running from an earlier session is restarted first."""
        self.ensure_initialised()
        if self.is_running():
            self.stop()
        self._write_local_conf()
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(timeout),
            "start",
        )
        # pg_ctl detaches the postmaster into its own session: guard it by pid. SIGINT is
        # Postgres's fast shutdown (SIGTERM would wait for every client to disconnect).
        self._postmaster = self.postmaster_pid()
        if self._postmaster is not None:
            lifeline().guard_process(self._postmaster, signal.SIGINT)
        return self

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid, from the first line of its postmaster.pid."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        return int(first) if first.strip().isdigit() else None

    def stop(self, timeout: int = 60) -> None:
        if self.is_running():
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(timeout), "stop"
            )
        postmaster, self._postmaster = self._postmaster, None
        if postmaster is not None:
            lifeline().release_process(postmaster)

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(p for p in directory.iterdir() if MIGRATION_NAME.match(p.name))


async def apply_migrations(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply each NNNN_*.sql once, in order, each in one transaction; return those applied now."""
    conn = await asyncpg.connect(dsn)
    try:
        # Two runners (e.g. make run and a test) must not apply the same file twice.
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM public.schema_migrations")}
        applied: list[str] = []
        for path in migration_files(directory):
            if path.name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO public.schema_migrations (name) VALUES ($1)", path.name
                )
            applied.append(path.name)
        return applied
    finally:
        # Closing the session releases the advisory lock too.
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.postgres")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply infra/migrations to a database")
    migrate.add_argument("--dsn", required=True)
    args = parser.parse_args(argv)
    applied = asyncio.run(apply_migrations(args.dsn))
    print("\n".join(applied) if applied else "nothing to apply")


if __name__ == "__main__":
    main()
