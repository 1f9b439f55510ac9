"""How the `prism` CLI fails: its exit codes and the error its commands raise."""

from __future__ import annotations

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
# 128 + SIGPIPE: the status a shell shows for a tool whose reader went away (`| head`).
EXIT_PIPE_CLOSED = 128 + 13


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code
