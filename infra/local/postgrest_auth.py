"""Who is calling: Supabase's apikey gate, then PostgREST's JWT role switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers

from infra.local import jwt
from infra.local.postgrest_errors import PgrstError

# Keys the Supabase API gateway lets through in the `apikey` header.
APIKEY_ROLES = frozenset({"anon", "authenticated", "service_role"})
# Roles PostgREST may SET ROLE to from a JWT's `role` claim: in hosted Supabase, the roles
# granted to its `authenticator` login (infra/migrations grants prism_edge, the edge's role).
ROLES = APIKEY_ROLES | {"prism_edge"}
ANON_ROLE = "anon"


@dataclass(frozen=True)
class Caller:
    role: str
    claims: dict[str, Any]


def _gateway_error(message: str, hint: str) -> PgrstError:
    # The Supabase API gateway answers before PostgREST does, with no PostgREST error code.
    return PgrstError(status=401, code=None, message=message, hint=hint)


def _jwt_error(message: str, code: str = "PGRST301") -> PgrstError:
    return PgrstError(status=401, code=code, message=message)


def check_apikey(headers: Headers, secret: str) -> dict[str, Any]:
    apikey = headers.get("apikey")
    if not apikey:
        raise _gateway_error("No API key found in request", "No `apikey` request header was found.")
    try:
        claims = jwt.decode(apikey, secret)
    except jwt.JWTError:
        raise _gateway_error(
            "Invalid API key", "Double check your Supabase `anon` or `service_role` API key."
        ) from None
    if claims.get("role", ANON_ROLE) not in APIKEY_ROLES:
        raise _gateway_error(
            "Invalid API key", "The key's role is not anon, authenticated or service_role."
        )
    return claims


def _bearer_claims(authorization: str, secret: str) -> dict[str, Any]:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _jwt_error("Authorization header must be 'Bearer <JWT>'")
    try:
        return jwt.decode(token.strip(), secret)
    except jwt.TokenExpired:
        raise _jwt_error("JWT expired", code="PGRST303") from None
    except jwt.BadSignature:
        raise _jwt_error("JWSError JWSInvalidSignature") from None
    except jwt.JWTError as exc:
        raise _jwt_error(f"JWSError {exc}") from None


def authenticate(headers: Headers, secret: str) -> Caller:
    """The caller's database role and JWT claims, or a 401 PgrstError."""
    key_claims = check_apikey(headers, secret)
    authorization = headers.get("authorization")
    claims = _bearer_claims(authorization, secret) if authorization else key_claims
    role = claims.get("role", ANON_ROLE)
    if role not in ROLES:
        raise _jwt_error(f"JWT role {role!r} is not one of {', '.join(sorted(ROLES))}")
    return Caller(role=role, claims=claims)
