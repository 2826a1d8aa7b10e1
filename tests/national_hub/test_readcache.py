"""The read cache's protocol: what an apply invalidates is never served old again."""

from __future__ import annotations

import pytest

from national_hub.readcache import ReadCache


def test_a_put_value_is_got() -> None:
    cache: ReadCache[str, int] = ReadCache(4)
    cache.put("a", 1, cache.generation)
    assert cache.get("a") == 1


def test_a_read_taken_before_an_apply_is_not_kept() -> None:
    cache: ReadCache[str, int] = ReadCache(4)
    generation = cache.generation
    cache.changing(["a"])
    cache.changed()
    cache.put("a", 1, generation)
    assert cache.get("a") is None


def test_nothing_is_kept_while_an_apply_is_under_way() -> None:
    cache: ReadCache[str, int] = ReadCache(4)
    cache.changing(["b"])
    cache.put("a", 1, cache.generation)  # read between changing() and the COMMIT
    cache.changed()
    assert cache.get("a") is None


def test_changing_drops_the_changed_keys_only() -> None:
    cache: ReadCache[str, int] = ReadCache(4)
    cache.put("a", 1, cache.generation)
    cache.put("b", 2, cache.generation)
    cache.changing(["a"])
    cache.changed()
    assert (cache.get("a"), cache.get("b")) == (None, 2)


def test_the_least_recently_used_goes_first() -> None:
    cache: ReadCache[str, int] = ReadCache(2)
    cache.put("a", 1, cache.generation)
    cache.put("b", 2, cache.generation)
    cache.get("a")
    cache.put("c", 3, cache.generation)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_size_zero_keeps_nothing() -> None:
    cache: ReadCache[str, int] = ReadCache(0)
    cache.put("a", 1, cache.generation)
    assert len(cache) == 0


def test_clear_forgets_everything() -> None:
    cache: ReadCache[str, int] = ReadCache(4)
    cache.put("a", 1, cache.generation)
    cache.clear()
    assert cache.get("a") is None


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        ReadCache(-1)
