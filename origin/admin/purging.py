"""A purge request, read and carried out: the same for POST /admin/v1/cache/purge and
`prism cache purge`."""

from __future__ import annotations

import re
from typing import Any

from origin.admin.fields import parse_tag_filter
from origin.cache.purge import Purger, PurgeResult
from shared.errors import InvalidRequest

# A cache key: the fingerprint's SHA-256, in hex.
FINGERPRINT = re.compile(r"[0-9a-f]{64}")


async def run_purge(
    purger: Purger, project_id: str, what: dict[str, Any], actor: str
) -> PurgeResult:
    """Purge by exactly one of `key`, `tag` or `all`."""
    chosen = [name for name in ("key", "tag", "all") if what.get(name) not in (None, False)]
    if len(chosen) != 1:
        raise InvalidRequest("Name exactly one of 'key', 'tag' or 'all' to purge.")
    if chosen == ["key"]:
        key = what["key"]
        if not isinstance(key, str) or not FINGERPRINT.fullmatch(key):
            raise InvalidRequest("'key' must be a cache key (64 hex characters).", param="key")
        return await purger.by_key(project_id, key, actor)
    if chosen == ["tag"]:
        tag = parse_tag_filter(what["tag"] if isinstance(what["tag"], str) else "")
        assert tag is not None
        return await purger.by_tag(project_id, tag[0], tag[1], actor)
    if what["all"] is not True:
        raise InvalidRequest("'all' must be true.", param="all")
    return await purger.by_project(project_id, actor)
