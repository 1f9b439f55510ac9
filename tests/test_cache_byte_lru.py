"""The byte-bounded LRU behind the pair verifier's remembered encodings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from origin.cache.byte_lru import ByteBudgetLRU

KEYS = st.sampled_from("abcdefgh")
OPS = st.lists(st.tuples(st.booleans(), KEYS, st.integers(1, 40)), max_size=60)


def _sized(budget: int) -> ByteBudgetLRU[int]:
    return ByteBudgetLRU(budget, lambda _key, value: value)


@given(OPS, st.integers(1, 100))
def test_what_it_holds_is_counted_and_within_budget(
    ops: list[tuple[bool, str, int]], budget: int
) -> None:
    lru = _sized(budget)
    last_put: dict[str, int] = {}
    for is_put, key, value in ops:
        if is_put:
            lru.put(key, value)
            last_put[key] = value
            assert lru.get(key) == value  # the newest is always kept
        else:
            assert lru.get(key) in (None, last_put.get(key))
    held = [v for k in last_put if (v := lru.get(k)) is not None]
    assert lru.held_bytes == sum(held) and len(lru) == len(held)
    assert lru.held_bytes <= budget or len(lru) == 1


def test_the_least_recently_used_goes_first() -> None:
    lru = _sized(30)
    lru.put("a", 10)
    lru.put("b", 10)
    lru.put("c", 10)
    assert lru.get("a") == 10  # a is now the most recently used
    lru.put("d", 10)
    assert lru.get("b") is None
    assert [lru.get(k) for k in "acd"] == [10, 10, 10]


def test_replacing_a_value_recounts_it() -> None:
    lru = _sized(100)
    lru.put("a", 60)
    lru.put("a", 20)
    assert lru.held_bytes == 20 and len(lru) == 1
