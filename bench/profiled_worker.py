"""One origin worker run as `prism serve` runs it, in this process, with cProfile switched by
signals.

    python -m bench.profiled_worker OUT.pstats      (PRISM_HOST / PRISM_PORT from the environment)

SIGUSR1 starts profiling, SIGUSR2 stops it and writes OUT.pstats, so start-up and warm-up
stay out of the profile.
"""

from __future__ import annotations

import argparse
import cProfile
import signal
from pathlib import Path
from types import FrameType

from origin.admin.serve import serve
from origin.settings import Settings


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
    args = p.parse_args()
    switch = Switch(args.out)
    signal.signal(signal.SIGUSR1, switch.start)
    signal.signal(signal.SIGUSR2, switch.stop)
    serve(Settings.from_env())


if __name__ == "__main__":
    main()
