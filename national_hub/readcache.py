"""ReadCache: a bounded cache of point reads that the apply invalidates.

Never serves a value older than what an apply has committed. The writer calls `changing(keys)`
before its COMMIT and `changed()` after it: the first drops the keys' entries, both bump a
generation, and between them nothing is put. A reader takes the generation before it reads the
database and may put what it read only if no bump happened meanwhile, so a read that may have
seen the state before a commit can never land in the cache after that commit; between the two
calls the keys are misses, read from the database, which shows the old or the new state as the
commit has or has not happened yet. Least recently used entries go first past `size`.

Thread-safe: the writer thread invalidates while the event loop reads and puts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ReadCache(Generic[K, V]):
    """Bounded LRU of point reads; see the module docstring for the invalidation protocol."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("size must be 0 or more")
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._generation = 0
        # Between changing() and changed(): nothing is put, whatever its generation.
        self._writing = False
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def generation(self) -> int:
        """Take this before reading the database; give it to put()."""
        return self._generation

    def get(self, key: K) -> V | None:
        """The cached value, or None (a miss: read the database)."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V, generation: int) -> None:
        """Keep a value read from the database at `generation` (ignored if an apply came
        between, or when the cache holds nothing)."""
        if self.size == 0:
            return
        with self._lock:
            if generation != self._generation or self._writing:
                return
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def changing(self, keys: Iterable[K]) -> None:
        """The writer is about to commit changes to these keys (call before COMMIT)."""
        with self._lock:
            self._generation += 1
            self._writing = True
            for key in keys:
                self._data.pop(key, None)

    def changed(self) -> None:
        """The writer's commit (or rollback) is done (call after it, whatever happened)."""
        with self._lock:
            self._generation += 1
            self._writing = False

    def clear(self) -> None:
        """Forget everything (a reset or rebuild)."""
        with self._lock:
            self._generation += 1
            self._data.clear()
