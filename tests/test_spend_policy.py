"""A project's limits as each request reads them: the caller's key's four, then the project's
four, the same however often they are asked for, for keys with limits of their own or none."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from origin.spend.policy import ProjectPolicy
from shared.limits import Limits

limit = st.one_of(st.none(), st.integers(min_value=1, max_value=10**6))
limits = st.builds(Limits, limit, limit, limit, limit)
key_ids = st.sampled_from(["key-a", "key-b", "key-c"])


@given(
    limits, st.dictionaries(key_ids, limits, max_size=3), st.lists(st.one_of(st.none(), key_ids))
)
def test_each_callers_limits_are_its_keys_then_the_projects(
    project: Limits, keys: dict[str, Limits], callers: list[str | None]
) -> None:
    policy = ProjectPolicy((), project, keys)
    for caller in callers * 2:  # asked again: the same answer
        own = keys.get(caller or "", Limits())
        expected = own.values() + project.values()
        assert policy.limit_values(caller) == expected
        assert policy.has_limits(caller) == (not (own.empty and project.empty))
