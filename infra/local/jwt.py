"""HS256 JSON Web Tokens with the standard library only, as Supabase signs its API keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

HEADER = {"alg": "HS256", "typ": "JWT"}


class JWTError(ValueError):
    """Any reason a token is not acceptable."""


class MalformedToken(JWTError):
    pass


class BadSignature(JWTError):
    pass


class TokenExpired(JWTError):
    pass


class TokenNotYetValid(JWTError):
    pass


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken(f"bad base64url segment: {exc}") from exc


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _sign(signing_input: bytes, secret: str | bytes) -> bytes:
    return hmac.new(_key(secret), signing_input, hashlib.sha256).digest()


def encode(claims: dict[str, Any], secret: str | bytes) -> str:
    header = _b64encode(json.dumps(HEADER, separators=(",", ":")).encode())
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{_b64encode(_sign(signing_input, secret))}"


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedToken(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedToken(f"{what} is not a JSON object")
    return value


def _check_times(claims: dict[str, Any], now: float, leeway: float) -> None:
    for name in ("exp", "nbf"):
        if name in claims and not isinstance(claims[name], (int, float)):
            raise MalformedToken(f"claim {name} is not a number")
    if "exp" in claims and now > claims["exp"] + leeway:
        raise TokenExpired("JWT expired")
    if "nbf" in claims and now < claims["nbf"] - leeway:
        raise TokenNotYetValid("JWT not yet valid")


def decode(
    token: str, secret: str | bytes, *, now: float | None = None, leeway: float = 0.0
) -> dict[str, Any]:
    """Verify signature and time claims; return the claims, or raise a JWTError subclass."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise MalformedToken("expected three non-empty dot-separated segments")
    header = _json_segment(parts[0], "header")
    # Pinning the algorithm blocks "alg": "none" and algorithm-confusion tokens.
    if header.get("alg") != "HS256":
        raise MalformedToken(f"unsupported alg {header.get('alg')!r}")
    signature = _b64decode(parts[2])
    expected = _sign(f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), secret)
    if not hmac.compare_digest(signature, expected):
        raise BadSignature("signature mismatch")
    claims = _json_segment(parts[1], "payload")
    _check_times(claims, time.time() if now is None else now, leeway)
    return claims


def main(argv: list[str] | None = None) -> int:
    """`python -m infra.local.jwt ROLE [--days N]`: a key for ROLE, signed with the project's
    JWT secret from $SUPABASE_JWT_SECRET (e.g. the edge's SUPABASE_EDGE_KEY: role prism_edge)."""
    import argparse
    import os
    import sys

    parser = argparse.ArgumentParser(prog="python -m infra.local.jwt", description=main.__doc__)
    parser.add_argument("role", help="the database role PostgREST switches to, e.g. prism_edge")
    parser.add_argument("--days", type=int, default=365, help="lifetime (default 365)")
    args = parser.parse_args(argv)
    secret = os.environ.get("SUPABASE_JWT_SECRET", "")
    if not secret:
        print("SUPABASE_JWT_SECRET is not set", file=sys.stderr)
        return 2
    now = int(time.time())
    claims = {"role": args.role, "iss": "supabase", "iat": now, "exp": now + args.days * 86400}
    print(encode(claims, secret))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
