"""Single lookups over HTTP that miss the answer cache, answered together.

A worker serving many connections receives their requests in bursts: the event loop runs every
request that arrived in one iteration before it runs the next callback. `LookupBatcher` collects
the single lookups the answer cache did not hold during one iteration and answers them at its
end with one `Lookup.lookup_many` per (classification, detail rule): one store query for all
their mailbox entries instead of one each (on PostgreSQL one network round trip instead of
many), with answers identical to `Lookup.lookup`'s.

A bad address fails only its own request: when a batch is refused as malformed, each of its
lookups is answered on its own. Any other failure (the store cannot answer) fails every lookup
of the batch, which the API turns into an error response: never an answer.

`run` reads the store off the event loop's thread, on a small pool, within `timeout` seconds
(past it: DirectoryError(unavailable), HTTP 503, never a "yes"): the batch and decision routes
use it. Single lookups that miss the cache are still answered on the loop's thread at the end
of the iteration: moving them to a thread measured 0.90-0.93 of the throughput and twice the
p99 (docs/performance.md, seventh session), so that step waits for a better design (issue 13).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from directory.errors import DirectoryError, ErrorKind
from directory.lookup import DetailRule, Lookup

Waiter = tuple[str, "asyncio.Future[dict[str, Any]]"]
T = TypeVar("T")


class LookupBatcher:
    def __init__(
        self, lookup: Lookup, max_batch: int = 256, threads: int = 4, timeout: float = 5.0
    ) -> None:
        self.lookup = lookup
        self.max_batch = min(max_batch, lookup.batch_limit)
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lookup")
        self._pending: dict[tuple[str | None, DetailRule], list[Waiter]] = {}
        self.batches = 0  # lookup_many calls made, for tests and benchmarks
        self.answered = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, read: Callable[..., T], *args: Any) -> T:
        """`read(*args)` on the pool, within the deadline."""
        loop = asyncio.get_running_loop()
        waiting = loop.run_in_executor(self._pool, read, *args)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.timeout)
        except TimeoutError:
            raise DirectoryError(
                ErrorKind.UNAVAILABLE,
                f"the directory did not answer within {self.timeout:g} s",
            ) from None

    async def answer(
        self, address: str, classification: str | None, detail: DetailRule
    ) -> dict[str, Any]:
        """What `Lookup.lookup(address, classification, detail)` answers, or raises."""
        answer = self.lookup.cached(address, classification, detail)
        if answer is not None:
            return answer
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[dict[str, Any]] = loop.create_future()
        if not self._pending:  # the first this iteration: answer them all at its end
            loop.call_soon(self._flush)
        self._pending.setdefault((classification, detail), []).append((address, waiter))
        return await waiter

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (classification, detail), waiters in pending.items():
            for first in range(0, len(waiters), self.max_batch):
                self._answer(waiters[first : first + self.max_batch], classification, detail)

    def _answer(
        self, waiters: list[Waiter], classification: str | None, detail: DetailRule
    ) -> None:
        if len(waiters) == 1:
            self._answer_one(waiters[0], classification, detail)
            return
        try:
            answers = self.lookup.lookup_many([a for a, _ in waiters], classification, detail)
        except Exception as exc:
            if isinstance(exc, DirectoryError) and exc.kind is ErrorKind.MALFORMED:
                for waiter in waiters:  # which one is bad: each answered (or refused) alone
                    self._answer_one(waiter, classification, detail)
            else:  # the store cannot answer: no answer for any of them
                _fail_all(waiters, exc)
            return
        self.batches += 1
        self.answered += len(waiters)
        for (_, future), answer in zip(waiters, answers, strict=True):
            if not future.done():  # the client went away meanwhile
                future.set_result(answer)

    def _answer_one(self, waiter: Waiter, classification: str | None, detail: DetailRule) -> None:
        """Exactly `Lookup.lookup`: its answer, or its error for this address."""
        address, future = waiter
        try:
            answer = self.lookup.lookup(address, classification, detail)
        except Exception as exc:
            _fail_all([waiter], exc)
            return
        self.answered += 1
        if not future.done():
            future.set_result(answer)


def _fail_all(waiters: list[Waiter], exc: BaseException) -> None:
    for _, future in waiters:
        if not future.done():
            future.set_exception(exc)
