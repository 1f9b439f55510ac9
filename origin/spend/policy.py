"""A project's spend policy as the gateway applies it: its budgets and its rate limits."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.budget_headers import WARN_FRACTION
from shared.limits import LIMIT_FIELDS, Limits, budget_key_prefix, window_bounds
from shared.pricing import format_cents
from shared.worst_case import to_units


@dataclass(frozen=True)
class Budget:
    id: str
    project_id: str
    period: str
    limit_cents: Decimal
    action: str
    tag: tuple[str, str] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Budget:
        tag = (row["tag_key"], row["tag_value"]) if row.get("tag_key") else None
        return cls(
            id=str(row["id"]),
            project_id=str(row["project_id"]),
            period=str(row["period"]),
            limit_cents=Decimal(str(row["limit_cents"])),
            action=str(row["action"]),
            tag=tag,
        )

    @property
    def blocks(self) -> bool:
        return self.action == "block"

    def covers(self, tags: Mapping[str, str] | None) -> bool:
        if self.tag is None:
            return True
        return tags is not None and tags.get(self.tag[0]) == self.tag[1]

    def scope(self) -> str:
        return f"tag {self.tag[0]}={self.tag[1]}" if self.tag else "project"

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        return window_bounds(self.period, now)

    def describe(self) -> str:
        return (
            f"{self.action} budget {self.id} ({self.scope()}, {self.period}ly limit "
            f"{format_cents(self.limit_cents)} cents)"
        ).replace("dayly", "daily")

    def units(self) -> tuple[int, int]:
        """The limit and the point it warns from (80 %), in the scripts' integer units."""
        return to_units(self.limit_cents), to_units(self.limit_cents * WARN_FRACTION)

    def edge_entry(self) -> list[str]:
        """The budget as the edge's script reads it: id, hash key without its period, tag key
        and value ("" for the whole project), period, action, limit and warning point (units),
        limit in cents."""
        tag_key, tag_value = self.tag or ("", "")
        limit, warn = self.units()
        return [
            self.id,
            budget_key_prefix(self.project_id, self.id),
            tag_key,
            tag_value,
            self.period,
            self.action,
            str(limit),
            str(warn),
            str(self.limit_cents),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "budget",
            "id": self.id,
            "project_id": self.project_id,
            "period": self.period,
            "limit_cents": format_cents(self.limit_cents),
            "action": self.action,
            "tag": f"{self.tag[0]}={self.tag[1]}" if self.tag else None,
        }


def limits_from_row(row: Mapping[str, Any]) -> Limits:
    return Limits(*(int(row[f]) if row.get(f) is not None else None for f in LIMIT_FIELDS))


@dataclass(frozen=True)
class ProjectPolicy:
    budgets: tuple[Budget, ...] = ()
    project_limits: Limits = field(default_factory=Limits)
    key_limits: dict[str, Limits] = field(default_factory=dict)

    @classmethod
    def from_rows(
        cls, budget_rows: list[dict[str, Any]], limit_rows: list[dict[str, Any]]
    ) -> ProjectPolicy:
        project = Limits()
        keys: dict[str, Limits] = {}
        for row in limit_rows:
            if row.get("api_key_id"):
                keys[str(row["api_key_id"])] = limits_from_row(row)
            else:
                project = limits_from_row(row)
        budgets = tuple(Budget.from_row(r) for r in budget_rows)
        return cls(budgets, project, keys)

    # Every request asks for its caller's limits two or three times; they change only with the
    # policy, which is replaced whole, so each caller's are worked out once per policy.
    _values_by_key: dict[str, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def limits_for(self, api_key_id: str | None) -> tuple[Limits, Limits]:
        """(the key's limits, the project's limits)."""
        return self.key_limits.get(api_key_id or "", Limits()), self.project_limits

    def limit_values(self, api_key_id: str | None) -> tuple[int, ...]:
        """The 8 limits of a request by this caller, in the order of shared.limits.limit_keys
        (the key's four, then the project's); 0 for unlimited."""
        found = self._values_by_key.get(api_key_id or "")
        if found is None:
            key, project = self.limits_for(api_key_id)
            found = key.values() + project.values()
            self._values_by_key[api_key_id or ""] = found
        return found

    def has_limits(self, api_key_id: str | None) -> bool:
        return any(self.limit_values(api_key_id))

    def covering(self, tags: Mapping[str, str] | None) -> list[Budget]:
        return [b for b in self.budgets if b.covers(tags)]

    def edge_config(self) -> str:
        """What the edge's script reads: every limit of the project, as arrays, and every
        budget, for the budget headers of the cache hits the edge answers (shared.spend_scripts
        ADMIT, config mode)."""
        keys = {k: list(v.values()) for k, v in self.key_limits.items() if not v.empty}
        budgets = [b.edge_entry() for b in self.budgets]
        config = {"project": list(self.project_limits.values()), "keys": keys, "budgets": budgets}
        return json.dumps(config)
