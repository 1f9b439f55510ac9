"""The one seam between the origin and Supabase: every database read and write goes through here.

It speaks PostgREST with the official client, authenticated as service_role (usage rows, the
one write per request, go by a leaner path: see `insert_usage`), and turns every client, HTTP
and database failure into exactly two errors of ours: `StoreUnavailable` (try
again later: the API or the database is down, overloaded or slow) and `StoreError` (the
request itself was refused). Nothing above this module sees postgrest or httpx exceptions.
"""

from origin.store.boundary import StoreError, StoreUnavailable
from origin.store.client import DEFAULT_TIMEOUT_S, Store
from origin.store.members import MemberRefused
from origin.store.records import (
    TAG_KEY,
    ApiKeyRecord,
    Project,
    ProviderKeyInfo,
    StoredProviderKey,
    valid_id,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TAG_KEY",
    "ApiKeyRecord",
    "MemberRefused",
    "Project",
    "ProviderKeyInfo",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredProviderKey",
    "valid_id",
]
