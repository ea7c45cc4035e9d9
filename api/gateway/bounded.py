"""A map bounded in entries and in bytes, for the gateway's in-memory caches.

When an insert would pass either bound the map is emptied first: cheaper than tracking use,
and a cache that is full of keys nobody asks again (a peer asking random names) is no worse
off. Bytes are an estimate the caller gives per entry (see the COST constants in resolver.py,
which a test checks against memory measured with tracemalloc), so the bound holds for keys a
peer chooses as well as for answers the register makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    __slots__ = ("bytes", "entries", "max_bytes", "max_entries")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.entries: dict[K, V] = {}
        self.bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def get(self, key: K) -> V | None:
        return self.entries.get(key)

    def put(self, key: K, value: V, cost: int) -> None:
        """Keep the value, charged `cost` bytes; nothing is kept if it alone would not fit."""
        if cost > self.max_bytes or self.max_entries <= 0:
            return
        if len(self.entries) >= self.max_entries or self.bytes + cost > self.max_bytes:
            self.clear()
        self.entries[key] = value  # a replaced key is charged again: an over-estimate
        self.bytes += cost

    def clear(self) -> None:
        self.entries = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[K]:
        return iter(self.entries)
