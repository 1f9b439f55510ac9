# The Workers runtime's JavaScript globals, as Pyodide exposes them (Workers-only; typed
# loosely on purpose: every attribute is a JavaScript object proxy).
from typing import Any

def __getattr__(name: str) -> Any: ...

Object: Any
