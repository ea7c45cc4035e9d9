"""One cache type for values worked out from the store at one change sequence (issue 13).

Every audited write bumps the store's change sequence (`directory_state.seq`). A value read
from the store at sequence S stays right until the sequence moves; some also go stale with the
clock alone (an OCSP response's reuse window, a certificate expiring), so each entry may expire
`ttl` seconds after it was put, on a monotonic clock of no known origin (`ticks`).

The rules, each tested once (tests/directory/test_cache.py):
- `get(key, seq, now)` answers only a value put at that same `seq` and not expired;
- `put(key, value, seq, now, cost)` at a newer `seq` than the cache holds empties it first; at an
  older one it keeps nothing (the value may predate a change already seen);
- `forget()` (the store failed) empties it, and nothing is kept until a sequence is seen again;
- bounded in entries and in bytes (`cost`, the caller's estimate): an entry that would pass
  either bound empties the cache first (cheaper than tracking use), one that alone exceeds the
  byte bound is not kept.
"""

from __future__ import annotations

import math
from typing import Generic, NamedTuple, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Entry(NamedTuple, Generic[V]):
    value: V
    expires: float  # ticks


class SeqCache(Generic[K, V]):
    __slots__ = ("bytes", "entries", "hits", "max_bytes", "max_entries", "misses", "seq", "ttl")

    def __init__(self, max_entries: int, max_bytes: int, ttl: float = math.inf) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.seq: int | None = None  # None: not known (never seen, or the store failed)
        self.entries: dict[K, Entry[V]] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: K, seq: int, now: float, default: V | None = None) -> V | None:
        """The value put at `seq`, unexpired at `now`; else `default` (a sentinel, where None
        is itself a value worth keeping)."""
        if seq == self.seq:  # on the gateway's hot path: plain tuple indexing, no attributes
            entry = self.entries.get(key)
            if entry is not None and entry[1] > now:
                self.hits += 1
                return entry[0]
        self.misses += 1
        return default

    def put(self, key: K, value: V, seq: int, now: float, cost: int = 0) -> None:
        if self.seq is None or seq > self.seq:
            self._empty()
            self.seq = seq
        elif seq < self.seq:
            return  # read before a change this cache has already seen
        if self.max_entries <= 0 or cost > self.max_bytes:
            return
        if len(self.entries) >= self.max_entries or self.bytes + cost > self.max_bytes:
            self._empty()
        self.entries[key] = Entry(value, now + self.ttl)  # a replaced key is charged again
        self.bytes += cost

    def forget(self) -> None:
        """The store failed: nothing from memory until a sequence is seen again."""
        self._empty()
        self.seq = None

    def __len__(self) -> int:
        return len(self.entries)

    def _empty(self) -> None:
        self.entries = {}
        self.bytes = 0
