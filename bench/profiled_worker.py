"""One origin worker under Hypercorn, in this process, with cProfile switched by signals.

    python -m bench.profiled_worker OUT.pstats --bind 127.0.0.1:P [--worker-class uvloop]

SIGUSR1 starts profiling, SIGUSR2 stops it and writes OUT.pstats, so start-up and warm-up
stay out of the profile. Hypercorn's own CLI would spawn the worker as a child process,
where a profiler set up here would not reach; this runs Hypercorn's worker function directly.
"""

from __future__ import annotations

import argparse
import cProfile
import signal
from pathlib import Path
from types import FrameType

from hypercorn.asyncio.run import asyncio_worker, uvloop_worker
from hypercorn.config import Config

APP = "origin.app:create_app()"


class Switch:
    """The profiler and where it is written when it stops."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.profile: cProfile.Profile | None = None

    def start(self, signum: int, frame: FrameType | None) -> None:
        self.profile = cProfile.Profile()
        self.profile.enable()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        if self.profile is not None:
            self.profile.disable()
            self.profile.dump_stats(str(self.out))
            self.profile = None


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profiled_worker")
    p.add_argument("out", type=Path)
    p.add_argument("--bind", required=True)
    p.add_argument("--worker-class", choices=("asyncio", "uvloop"), default="uvloop")
    args = p.parse_args()
    switch = Switch(args.out)
    signal.signal(signal.SIGUSR1, switch.start)
    signal.signal(signal.SIGUSR2, switch.stop)
    config = Config()
    config.bind = [args.bind]
    config.accesslog = None
    config.application_path = APP
    worker = uvloop_worker if args.worker_class == "uvloop" else asyncio_worker
    worker(config, config.create_sockets())


if __name__ == "__main__":
    main()
