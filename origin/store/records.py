"""The store's records and the columns they are read from."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

PROJECT_COLUMNS = "id,org_id,name,created_at"
API_KEY_COLUMNS = "id,project_id,name,prefix,created_at,revoked_at"
PROVIDER_KEY_COLUMNS = "id,project_id,provider,name,base_url,created_at"
BUDGET_COLUMNS = "id,project_id,period,limit_cents,tag_key,tag_value,action,created_at"
LIMIT_COLUMNS = (
    "id,project_id,api_key_id,subject_id,requests_per_minute,requests_per_day,"
    "requests_per_month,tokens_per_minute,updated_at"
)
USAGE_LIMIT_MAX = 1000
# Tag keys become part of a PostgREST column path (request_tags->>key), so only plain words.
TAG_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Project:
    id: str
    org_id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class ApiKeyRecord:
    """A gateway key as stored: never the key, never its hash; `prefix` is for display only."""

    id: str
    project_id: str
    name: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class ProviderKeyInfo:
    """A provider key's metadata, safe to show: no ciphertext, no plaintext."""

    id: str
    project_id: str
    provider: str
    name: str
    base_url: str | None
    created_at: str


@dataclass(frozen=True)
class StoredProviderKey:
    """What the router needs to call a provider; the key is still sealed."""

    provider: str
    name: str
    base_url: str | None
    ciphertext: str


def valid_id(text: str) -> bool:
    """Whether `text` is a uuid, so callers can answer 404 instead of sending junk to Postgres."""
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return True
