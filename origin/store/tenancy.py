"""Organisations, projects, gateway keys and sealed provider keys."""

from __future__ import annotations

from datetime import UTC, datetime

from origin.store.actor import named
from origin.store.base import RowList, Rows
from origin.store.boundary import boundary, rows_of
from origin.store.records import (
    API_KEY_COLUMNS,
    PROJECT_COLUMNS,
    PROVIDER_KEY_COLUMNS,
    ApiKeyRecord,
    Project,
    ProviderKeyInfo,
    StoredProviderKey,
    valid_id,
)
from shared.apikeys import display_prefix, generate_api_key, hash_api_key
from shared.usage import Caller


class TenancyRows(Rows):
    async def resolve_api_key(self, key_hash: str) -> Caller | None:
        async with boundary("resolve_api_key"):
            res = await self._client.rpc("resolve_api_key", {"p_key_hash": key_hash}).execute()
        rows = rows_of(res.data)
        if not rows:
            return None
        row = rows[0]
        return Caller(
            org_id=row["org_id"], project_id=row["project_id"], api_key_id=row["api_key_id"]
        )

    async def provider_keys(
        self, project_id: str, name: str | None = None
    ) -> list[StoredProviderKey]:
        """A project's sealed keys (only the one called `name`, if given)."""

        async def read() -> RowList:
            async with boundary("provider_keys"):
                query = (
                    self._client.from_("provider_keys")
                    .select("provider,name,base_url,ciphertext")
                    .eq("project_id", project_id)
                )
                if name is not None:
                    query = query.eq("name", name)
                res = await query.order("name").execute()
            return rows_of(res.data)

        # A request needs the whole set, so only that is kept for a worker started mid-outage.
        rows = await (
            read() if name is not None else self._kept(f"provider_keys:{project_id}", read)
        )
        return [StoredProviderKey(**row) for row in rows]

    async def create_org(self, name: str) -> str:
        async with boundary("create_org"):
            res = await (
                self._client.from_("organisations").insert({"name": name}).select("id").execute()
            )
        return str(rows_of(res.data)[0]["id"])

    async def create_project(self, name: str, org_id: str | None = None) -> Project:
        """A project in `org_id`, or in a new organisation of the same name."""
        org_id = org_id or await self.create_org(name)
        async with boundary("create_project"):
            res = await (
                self._client.from_("projects")
                .insert({"name": name, "org_id": org_id})
                .select(PROJECT_COLUMNS)
                .execute()
            )
        return Project(**rows_of(res.data)[0])

    async def list_projects(self) -> list[Project]:
        async with boundary("list_projects"):
            res = await (
                self._client.from_("projects").select(PROJECT_COLUMNS).order("created_at").execute()
            )
        return [Project(**row) for row in rows_of(res.data)]

    async def get_project(self, project_id: str) -> Project | None:
        if not valid_id(project_id):
            return None
        async with boundary("get_project"):
            res = await (
                self._client.from_("projects")
                .select(PROJECT_COLUMNS)
                .eq("id", project_id)
                .execute()
            )
        return Project(**rows_of(res.data)[0]) if res.data else None

    async def create_api_key(
        self, project_id: str, name: str | None = None
    ) -> tuple[str, ApiKeyRecord]:
        """A new gateway key: the plaintext is returned here once and stored nowhere."""
        key = generate_api_key()
        row = {
            "project_id": project_id,
            "name": name,
            "key_hash": hash_api_key(key),
            "prefix": display_prefix(key),
        }
        async with boundary("create_api_key"):
            res = await named(
                self._client.from_("api_keys").insert(row).select(API_KEY_COLUMNS)
            ).execute()
        return key, ApiKeyRecord(**rows_of(res.data)[0])

    async def list_api_keys(self, project_id: str) -> list[ApiKeyRecord]:
        async with boundary("list_api_keys"):
            res = await (
                self._client.from_("api_keys")
                .select(API_KEY_COLUMNS)
                .eq("project_id", project_id)
                .order("created_at")
                .execute()
            )
        return [ApiKeyRecord(**row) for row in rows_of(res.data)]

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Revoke a live key; None when no such key (revoking twice keeps the first time)."""
        if not valid_id(key_id):
            return None
        async with boundary("revoke_api_key"):
            res = await named(
                self._client.from_("api_keys")
                .update({"revoked_at": datetime.now(UTC).isoformat()})
                .eq("id", key_id)
                .is_("revoked_at", "null")
                .select(API_KEY_COLUMNS)
            ).execute()
            if not res.data:
                res = await (
                    self._client.from_("api_keys")
                    .select(API_KEY_COLUMNS)
                    .eq("id", key_id)
                    .execute()
                )
        return ApiKeyRecord(**rows_of(res.data)[0]) if res.data else None

    async def api_key_hash(self, key_id: str) -> str | None:
        """The stored hash of a key (revoked or not), which every key cache is keyed by."""
        if not valid_id(key_id):
            return None
        async with boundary("api_key_hash"):
            res = await self._client.from_("api_keys").select("key_hash").eq("id", key_id).execute()
        rows = rows_of(res.data)
        return str(rows[0]["key_hash"]) if rows else None

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        if not valid_id(key_id):
            return None
        async with boundary("get_api_key"):
            res = await (
                self._client.from_("api_keys").select(API_KEY_COLUMNS).eq("id", key_id).execute()
            )
        return ApiKeyRecord(**rows_of(res.data)[0]) if res.data else None

    async def add_provider_key(
        self,
        project_id: str,
        provider: str,
        ciphertext: str,
        name: str | None = None,
        base_url: str | None = None,
        key_hint: str | None = None,
    ) -> ProviderKeyInfo:
        """Store an already-encrypted key; `name` (the encryption context) defaults to provider.
        `key_hint` is the plaintext's last four characters, all the dashboard ever shows again."""
        row = {
            "project_id": project_id,
            "provider": provider,
            "name": name or provider,
            "base_url": base_url,
            "ciphertext": ciphertext,
            "key_hint": key_hint,
        }
        async with boundary("add_provider_key"):
            res = await named(
                self._client.from_("provider_keys").insert(row).select(PROVIDER_KEY_COLUMNS)
            ).execute()
        return ProviderKeyInfo(**rows_of(res.data)[0])

    async def list_provider_keys(self, project_id: str) -> list[ProviderKeyInfo]:
        async with boundary("list_provider_keys"):
            res = await (
                self._client.from_("provider_keys")
                .select(PROVIDER_KEY_COLUMNS)
                .eq("project_id", project_id)
                .order("name")
                .execute()
            )
        return [ProviderKeyInfo(**row) for row in rows_of(res.data)]

    async def reseal_provider_key(
        self, project_id: str, name: str, was: StoredProviderKey, now: StoredProviderKey
    ) -> ProviderKeyInfo | None:
        """Replace a key's provider, base URL and ciphertext, only if the row still holds
        `was` (so a concurrent change is never overwritten); None if it did not."""
        async with boundary("reseal_provider_key"):
            res = await named(
                self._client.from_("provider_keys")
                .update(
                    {
                        "provider": now.provider,
                        "base_url": now.base_url,
                        "ciphertext": now.ciphertext,
                    }
                )
                .eq("project_id", project_id)
                .eq("name", name)
                .eq("ciphertext", was.ciphertext)
                .select(PROVIDER_KEY_COLUMNS)
            ).execute()
        rows = rows_of(res.data)
        return ProviderKeyInfo(**rows[0]) if rows else None

    async def remove_provider_key(self, project_id: str, name: str) -> bool:
        async with boundary("remove_provider_key"):
            res = await named(
                self._client.from_("provider_keys")
                .delete()
                .eq("project_id", project_id)
                .eq("name", name)
            ).execute()
        return bool(res.data)
