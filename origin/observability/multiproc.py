"""The directory several workers share their metric values through.

prometheus_client decides how to store values when it is first imported, so the directory must
be named in the environment before then; the workers inherit it, and a scrape of any one of
them adds up what all of them wrote. This module imports nothing of prometheus_client, so the
process that starts the workers can set the directory up without fixing its own storage first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def shared_by_workers(data_dir: Path) -> Iterator[None]:
    """Around running several workers: a fresh directory for this run's values, named to the
    workers through the environment they inherit, removed afterwards. An operator's own
    PROMETHEUS_MULTIPROC_DIR is used as it is."""
    if multiprocess_dir() is not None:
        yield
        return
    directory = data_dir / "metrics" / f"run-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def multiprocess_dir() -> str | None:
    """The shared directory of a multi-worker run, or None in a single process."""
    return os.environ.get(MULTIPROC_ENV) or None
