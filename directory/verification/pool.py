"""Posture checks and challenge re-verifications for many domains, over several processes.

One full posture check costs ~7 ms of CPU in CPython (docs/perf-dns.md), so one process tops
out at ~115-150 checks/s. `CheckPool` spreads the checks over N worker processes (started with
the "spawn" method: never a fork of a process that has threads), each of which builds its own
`DnsClient`, DNSSEC `Validator` (with its own key cache) and `PostureChecker` from the Settings
once, and runs its share with bounded asyncio concurrency, exactly as the single-process path
does. Workers only check and return results: they never open the store. The parent records
every result through the audited service code (`DnsVerification.run_due`), so there is one
writer, and a temporary failure keeps the last good state as before.

Any unexpected failure in a worker (or a worker that dies) fails the whole run closed with
`DirectoryError(UNAVAILABLE)` before anything is recorded, as an exception in the
single-process run does.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from types import TracebackType
from typing import TypeVar

from directory.errors import DirectoryError, ErrorKind
from directory.settings import Settings
from directory.verification.challenge import ChallengeResult, challenge_name, check_challenge
from directory.verification.dnssec import Validator, load_anchors
from directory.verification.findings import finding
from directory.verification.mtasts import PolicyFetcher, tls_context
from directory.verification.posture import PostureChecker, PostureResult
from directory.verification.publicsuffix import is_public_suffix
from directory.verification.resolver import DnsClient, TemporaryFailure

MAX_PROCESSES = 32
_T = TypeVar("_T")


@dataclass(frozen=True)
class Tools:
    """What a checking process needs, built once from the Settings."""

    client: DnsClient
    validator: Validator
    checker: PostureChecker

    @classmethod
    def from_settings(cls, settings: Settings) -> Tools:
        client = DnsClient.from_settings(settings)
        validator = Validator(client, load_anchors(settings.dns_trust_anchors_path))
        fetcher = PolicyFetcher(
            client,
            tls_context(settings.mta_sts_ca_file),
            settings.mta_sts_port,
            settings.mta_sts_timeout,
        )
        return cls(client, validator, PostureChecker(client, validator, fetcher))


@dataclass(frozen=True)
class ChallengeJob:
    """One domain-control check, with what the store said about the issued challenge."""

    domain: str
    token: str | None
    expires: datetime | None
    now: datetime
    initial: bool  # not yet verified by DNS: the challenge's expiry must be in the future


@dataclass(frozen=True)
class PostureJob:
    domain: str
    now: datetime


Job = ChallengeJob | PostureJob
Result = ChallengeResult | PostureResult


async def run_challenge(
    client: DnsClient, job: ChallengeJob, validator: Validator | None = None
) -> ChallengeResult:
    """The challenge check (DNSSEC-validated with a validator); a temporary DNS failure is a
    result, not an exception."""
    if is_public_suffix(job.domain):
        result = ChallengeResult(job.domain, challenge_name(job.domain), job.now)
        result.findings.append(finding("domain.public-suffix", job.domain))
        return result
    try:
        return await check_challenge(
            client,
            job.domain,
            job.token,
            job.expires,
            job.now,
            initial=job.initial,
            validator=validator,
        )
    except TemporaryFailure as exc:
        result = ChallengeResult(job.domain, challenge_name(job.domain), job.now)
        result.temporary_failure = True
        result.findings.append(finding("dns.temporary-failure", str(exc)))
        return result


async def run_jobs(tools: Tools, jobs: Sequence[Job], concurrency: int) -> list[Result]:
    """Every job, at most `concurrency` in flight; results in the jobs' order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> Result:
        async with gate:
            if isinstance(job, ChallengeJob):
                return await run_challenge(tools.client, job, tools.validator)
            return await tools.checker.check(job.domain, job.now)

    return list(await asyncio.gather(*(one(job) for job in jobs)))


# --- inside a worker process -------------------------------------------------------------------
class WorkerFailed(Exception):
    """An unexpected error in a worker, as text (the original may not survive pickling)."""


_tools: Tools | None = None


def _start_worker(settings: Settings) -> None:
    global _tools
    _tools = Tools.from_settings(settings)


def _run_chunk(jobs: list[Job], concurrency: int) -> list[Result]:
    if _tools is None:
        raise WorkerFailed("the worker was not initialised")
    try:
        return asyncio.run(run_jobs(_tools, jobs, concurrency))
    except Exception as exc:
        raise WorkerFailed(f"{type(exc).__name__}: {exc}") from None


def _ready(pause: float) -> int:
    time.sleep(pause)  # keeps this worker busy so that the others take the other calls
    return os.getpid()


# --- in the parent -----------------------------------------------------------------------------
class CheckPool:
    """N worker processes checking domains; use as a context manager (workers are stopped on
    exit). `concurrency` bounds the checks in flight over all workers together: each worker
    runs at most concurrency // processes at once."""

    def __init__(self, settings: Settings, processes: int, concurrency: int) -> None:
        if not 1 <= processes <= MAX_PROCESSES:
            raise DirectoryError(
                ErrorKind.MALFORMED, f"processes must be 1-{MAX_PROCESSES}, not {processes}"
            )
        if concurrency < 1:
            raise DirectoryError(ErrorKind.MALFORMED, "concurrency must be at least 1")
        self.processes = min(processes, concurrency)
        self.per_worker = concurrency // self.processes
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings,),
        )

    def __enter__(self) -> CheckPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def warm(self, timeout: float = 120.0) -> list[int]:
        """Start every worker (each builds its tools) and return their process ids."""
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < self.processes:
            if time.monotonic() > deadline:
                raise DirectoryError(ErrorKind.UNAVAILABLE, "the check workers did not start")
            calls = [self._executor.submit(_ready, 0.2) for _ in range(self.processes)]
            seen.update(self._collect(calls))
        return sorted(seen)

    def run(self, jobs: Sequence[Job]) -> list[Result]:
        """Results in the jobs' order. Chunks are handed to whichever worker is free."""
        if not jobs:
            return []
        size = max(8 * self.per_worker, math.ceil(len(jobs) / (4 * self.processes)))
        calls = [
            self._executor.submit(_run_chunk, list(jobs[start : start + size]), self.per_worker)
            for start in range(0, len(jobs), size)
        ]
        return [result for chunk in self._collect(calls) for result in chunk]

    def check(self, domains: Sequence[str], now: datetime) -> list[PostureResult]:
        results = self.run([PostureJob(d, now) for d in domains])
        return [r for r in results if isinstance(r, PostureResult)]

    @staticmethod
    def _collect(calls: list[Future[_T]]) -> list[_T]:
        try:
            return [call.result() for call in calls]
        except (WorkerFailed, BrokenProcessPool) as exc:
            for call in calls:
                call.cancel()
            why = str(exc) or type(exc).__name__
            raise DirectoryError(ErrorKind.UNAVAILABLE, f"a check worker failed: {why}") from None
