"""One outbox file per live process: workers sharing a data directory never share an outbox.

Files are numbered slots beside the configured path: `ledger-outbox.sqlite3` (slot 0, also
what a single process always had), `ledger-outbox.1.sqlite3`, ... A process owns a slot while
it holds an exclusive `flock` on the slot's `.lock` file; the kernel drops the lock when the
process dies, however it dies. So a slot whose lock can be taken belongs to nobody alive, and
whoever takes it may adopt its rows. Lock files are never deleted: unlinking a lock file
another process is about to lock would let two processes believe they own one slot.

Blocking calls (file locks and directory scans); the ledger runs them through a thread.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

MAX_SLOTS: Final = 4096


class NoFreeSlot(RuntimeError):
    """Every slot is held by a live process (far more workers than anyone runs)."""


class Slot:
    """A claimed outbox file. `release()` (or our death) lets another process have it."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._fd: int | None = lock_fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock

    def remove_files(self) -> None:
        """Delete the slot's database (and its WAL files); the lock file stays, see above."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def slot_path(base: Path, index: int) -> Path:
    return base if index == 0 else base.with_name(f"{base.stem}.{index}{base.suffix}")


def try_claim(path: Path) -> Slot | None:
    """The slot at `path` if no live process holds it, else None. Never waits."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return Slot(path, fd)


def claim(base: Path) -> Slot:
    """The lowest free slot, so a restarted set of N workers reuses slots 0..N-1."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for index in range(MAX_SLOTS):
        slot = try_claim(slot_path(base, index))
        if slot is not None:
            return slot
    raise NoFreeSlot(f"all {MAX_SLOTS} outbox slots beside {base} are in use")


def orphans(base: Path, own: Path) -> Iterator[Slot]:
    """Claimed slots whose database exists but whose owner is gone; the caller releases each."""
    pattern = re.compile(rf"{re.escape(base.stem)}(\.\d+)?{re.escape(base.suffix)}")
    if not base.parent.is_dir():
        return
    for path in sorted(base.parent.iterdir()):
        if path == own or not pattern.fullmatch(path.name):
            continue
        slot = try_claim(path)
        if slot is None:
            continue
        if path.exists():
            yield slot
        else:  # deleted by another adopter between our listing and our lock
            slot.release()
