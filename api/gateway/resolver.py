"""Answers the gateway's questions without blocking the event loop, within a deadline.

Recipient lookups go to worker threads through a queue, handed over once per event-loop
iteration; a worker takes every lookup waiting (up to `max_batch`) and answers them with one
`Lookup.lookup_many` call (the same in-process lookup as the HTTP API), then hands the answers
back to the loop in one call. With `workers=0` the lookups run on the loop itself, still once
per iteration. A lookup not answered by its deadline gets DirectoryError(unavailable), so the
caller defers: a slow or broken store is never an acceptance.

Answers may be kept in a per-process cache (`answer_cache_entries`, default 0 = off): emptied when
the store's change sequence (`directory_state.seq`, bumped by every audited write) moves, which
is checked every `refresh_seconds`; an entry also expires `answer_cache_seconds` after it was
read (changes that come from the clock alone, such as an accreditation expiring, bump nothing).
Only answers are cached, never errors. An answer read before a change was observed is not put
in the cache after it (a generation number guards the race). When a lookup finds the store
failing, or the change sequence cannot be read for `max_stale` seconds, the cache is emptied and
not used until the change sequence is read again: every lookup goes to the store (and fails
closed while it is down). Staleness bound for a store change:
`refresh_seconds` plus the time one state read takes.

The TLS policy of a domain depends only on the register (domains, posture, policy), not on
mailboxes, so it is answered in the loop from the register snapshot, memoised per domain and
dropped whenever the snapshot's `register_seq` changes. A background task re-reads the
snapshot every `refresh_seconds`; if that has not succeeded for `max_stale` seconds the map
answers unavailable (TEMP). Staleness bound: a register change shows within `refresh_seconds`
plus the time one refresh takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from api.gateway.rules import GatewayRules
from directory.address import normalise_domain
from directory.cache import SeqCache
from directory.errors import DirectoryError, ErrorKind
from directory.evaluation import Delivery, handling
from directory.model import Transport
from directory.service import Directory
from directory.snapshot import Snapshot

log = logging.getLogger(__name__)

Result = dict[str, Any] | DirectoryError
Callback = Callable[[Result], None]
MAX_TLS_CACHE = 100_000
_MISSING = "\0missing"  # no TLS policy value can be this (they are printable ASCII)
# Bytes charged per cache entry besides its key: what one entry holds of its own (the map's
# slot, the key's str header, the answer's top-level dict; the rest of an answer is shared with
# its shape's other answers). An answer with certificates is built afresh, so each certificate
# is charged its PEM and the rest of that answer's own parts. tests/api/gateway/test_cache.py
# measures them with tracemalloc (demo: 0.8 KB held for 1.05 KB charged without certificates,
# 3.2 KB for 3.3 KB with one).
ANSWER_COST = 1024
CERTIFICATE_COST = 512
TLS_COST = 256


def answer_cost(address: str, answer: dict[str, Any]) -> int:
    """The bytes one answer cache entry is charged."""
    cost = ANSWER_COST + len(address)
    for certificate in answer["certificates"]:
        cost += CERTIFICATE_COST + len(certificate["pem"])
    return cost


def unavailable(why: str) -> DirectoryError:
    return DirectoryError(ErrorKind.UNAVAILABLE, why)


class _Job:
    __slots__ = ("address", "callback", "deadline", "done", "generation")

    def __init__(self, address: str, callback: Callback, deadline: float, generation: int) -> None:
        self.address = address
        self.callback = callback
        self.deadline = deadline
        self.generation = generation
        self.done = False


class Resolver:
    def __init__(
        self,
        directory: Directory,
        rules: GatewayRules,
        *,
        workers: int = 1,
        max_batch: int = 64,
        max_queue: int = 10_000,
        refresh_seconds: float | None = None,
    ) -> None:
        self.lookup = directory.lookup
        self.ticks = directory.ticks  # monotonic seconds, of no known origin
        self.rules = rules
        self.workers = workers
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.refresh_seconds = refresh_seconds or max(
            directory.settings.cache_refresh_seconds, 0.25
        )
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._pending: list[_Job] = []
        self._waiting: deque[_Job] = deque()
        self._threads: list[threading.Thread] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._snapshot: Snapshot | None = None
        self._snapshot_at = -math.inf  # never read
        # by the register's sequence: a domain's TLS policy depends on nothing else
        self._tls_cache: SeqCache[str, str | None] = SeqCache(MAX_TLS_CACHE, rules.tls_cache_bytes)
        self._reading: asyncio.Future[tuple[int, Snapshot]] | None = None
        # the answer cache: address as asked -> (answer, expires at self.ticks() time)
        self.cache_entries = rules.answer_cache_entries
        self.cache_seconds = rules.answer_cache_seconds
        self._answers: SeqCache[str, dict[str, Any]] = SeqCache(
            self.cache_entries, rules.answer_cache_bytes, ttl=self.cache_seconds
        )
        self._generation = 0
        self._seq: int | None = None

    # --- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"clearance-lookup-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        with contextlib.suppress(DirectoryError):
            await self._refresh_once()
        self._tasks = [
            asyncio.create_task(self._sweep_forever()),
            asyncio.create_task(self._refresh_forever()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 5.0)
        self._threads.clear()
        while self._waiting:
            self._finish(self._waiting.popleft(), unavailable("the gateway is stopping"))

    # --- recipients -------------------------------------------------------------------------
    def recipient(self, address: str, callback: Callback) -> None:
        """Look the address up; `callback` runs in the loop with the answer or an error."""
        if self._loop is None or not (self._threads or self.workers == 0):
            callback(unavailable("the gateway is not running"))
            return
        now = self.ticks()
        if self._seq is not None:  # the cache is in use (the change sequence is current)
            cached = self._answers.get(address, self._seq, now)
            if cached is not None:
                callback(cached)
                return
        if len(self._waiting) >= self.max_queue:  # includes answered ones not yet swept
            callback(unavailable("too many lookups waiting"))
            return
        job = _Job(address, callback, now + self.rules.lookup_timeout, self._generation)
        self._waiting.append(job)
        if not self._pending:  # the first this loop iteration: hand them over at its end
            self._loop.call_soon(self._flush)
        self._pending.append(job)

    def _flush(self) -> None:
        """One hand-over per loop iteration for all the lookups it asked for: the worker wakes
        once and answers them with one `lookup_many` (much cheaper per address than one by one)."""
        pending, self._pending = self._pending, []
        if self.workers == 0:  # inline: answered here, on the loop
            for first in range(0, len(pending), self.max_batch):
                chunk = pending[first : first + self.max_batch]
                self._deliver(chunk, self._answer([j.address for j in chunk]))
            return
        self._jobs.put(pending)

    def _work(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            batch = self._jobs.get()
            if batch is None:
                return
            stop = False
            while len(batch) < self.max_batch:  # more handed over meanwhile: take them too
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.extend(more)
            now = self.ticks()
            live = [j for j in batch if j.deadline > now]
            for first in range(0, len(live), self.max_batch):
                chunk = live[first : first + self.max_batch]
                results = self._answer([j.address for j in chunk])
                with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                    loop.call_soon_threadsafe(self._deliver, chunk, results)
            if stop:
                return

    def _answer(self, addresses: list[str]) -> list[Result]:
        try:
            return list(self.lookup.lookup_many(addresses))
        except DirectoryError as exc:
            invalid = exc.extra.get("invalid") if exc.kind is ErrorKind.MALFORMED else None
            if not invalid:
                return [exc] * len(addresses)
        except Exception:  # anything else: the directory cannot answer (fail closed), logged once
            log.exception("lookup of %d recipients failed: they are deferred", len(addresses))
            return [unavailable("the directory store failed")] * len(addresses)
        bad = {p["index"]: p["detail"] for p in invalid}
        good = [a for i, a in enumerate(addresses) if i not in bad]
        answers = iter(self._answer(good) if good else [])
        return [
            DirectoryError(ErrorKind.MALFORMED, bad[i]) if i in bad else next(answers)
            for i in range(len(addresses))
        ]

    def _deliver(self, jobs: list[_Job], results: list[Result]) -> None:
        seq = self._seq
        keep = seq is not None
        if keep:
            answers, generation, now = self._answers, self._generation, self.ticks()
        for job, result in zip(jobs, results, strict=True):
            if not isinstance(result, DirectoryError):
                if keep and job.generation == generation:
                    assert seq is not None
                    answers.put(job.address, result, seq, now, answer_cost(job.address, result))
            elif keep and result.kind is ErrorKind.UNAVAILABLE:
                self._forget_answers(None)  # the store fails: no answers from memory either
                keep = False
            self._finish(job, result)

    @staticmethod
    def _finish(job: _Job, result: Result) -> None:
        if not job.done:
            job.done = True
            job.callback(result)

    async def _sweep_forever(self) -> None:
        interval = min(0.05, self.rules.lookup_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            now = self.ticks()
            waiting = self._waiting
            while waiting and (waiting[0].done or waiting[0].deadline <= now):
                job = waiting.popleft()
                self._finish(job, unavailable("the directory did not answer in time"))

    # --- TLS policy -------------------------------------------------------------------------
    def tls_policy(self, key: str) -> str | None:
        """The smtp_tls_policy_maps value for a destination domain, or None (NOTFOUND)."""
        snapshot = self._snapshot
        if snapshot is None or self.ticks() - self._snapshot_at > self.rules.max_stale:
            raise unavailable("the register view is out of date")
        if not key or key[0] in "[." or len(key) > 253:
            # [host]:port next hops, .parent lookups, and keys no domain name can be: answered
            # without entering the cache
            return None
        seq = snapshot.register_seq
        known = self._tls_cache.get(key, seq, 0.0, _MISSING)
        if known is not _MISSING:
            return known
        value = self._tls_value(snapshot, key)
        self._tls_cache.put(key, value, seq, 0.0, TLS_COST + len(key))  # value: a rules string
        return value

    def _tls_value(self, snapshot: Snapshot, key: str) -> str | None:
        try:
            name = normalise_domain(key)
        except DirectoryError:
            return None
        domain = snapshot.domains.get(name)
        if domain is None:
            return None
        requirement = snapshot.policy.requirement(self.rules.tls_level)
        transport = handling(requirement, domain.posture, False).transport
        if transport is Delivery.DANE_REQUIRED:
            return self.rules.tls_dane
        if transport is Delivery.TLS_REQUIRED:
            if requirement.transport is Transport.TLS:
                return self.rules.tls_encrypt
            return self.rules.tls_secure
        return None

    async def _refresh_once(self) -> None:
        if self._reading is None or self._reading.done():  # never pile up stuck reads
            assert self._loop is not None
            self._reading = self._loop.run_in_executor(None, self.lookup.reread)
        try:
            seq, snapshot = await asyncio.wait_for(
                asyncio.shield(self._reading), timeout=self.rules.lookup_timeout
            )
        except Exception as exc:  # TimeoutError or the store's error: not current
            if self.ticks() - self._snapshot_at > self.rules.max_stale:
                self._forget_answers(None)
            raise unavailable("the register could not be read") from exc
        self._snapshot = snapshot
        self._snapshot_at = self.ticks()
        if self.cache_entries and seq != self._seq:
            self._forget_answers(seq)

    @property
    def cached_answers(self) -> int:
        return len(self._answers)

    @property
    def hits(self) -> int:
        return self._answers.hits

    @property
    def misses(self) -> int:
        return self._answers.misses

    def _forget_answers(self, seq: int | None) -> None:
        """Empty the answer cache; answers read before now are not cached when they arrive.
        `seq` None: the change sequence is not known, so the cache is not used until it is."""
        self._answers.forget()
        self._generation += 1
        self._seq = seq

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            with contextlib.suppress(DirectoryError):
                await self._refresh_once()
