# The Python Workers SDK, the part edge/entry.py uses (Workers-only).
from typing import Any

class Response:
    def __init__(self, body: Any = ..., status: int = ..., headers: Any = ...) -> None: ...

class WorkerEntrypoint:
    env: Any
    ctx: Any
