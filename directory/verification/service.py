"""DnsVerification: claims with a challenge, DNS verification, posture checks, and the schedule.

Every result is recorded through the store's Writer, so it is audited (who, when, what was seen)
and bumps the change sequence (lookups follow within the cache bound). A temporary failure
(DNS timeout, SERVFAIL) keeps the last good state and is itself audited and reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from directory.address import normalise_domain
from directory.authz import Action, Principal, authorize
from directory.errors import conflict, malformed, not_found
from directory.model import Domain, RecordStatus
from directory.store.records import posture_with
from directory.verification.challenge import (
    ChallengeResult,
    challenge_name,
    expiry_for,
    new_token,
    record_text,
    rfc3339,
)
from directory.verification.pool import ChallengeJob, CheckPool, PostureJob, Tools, run_challenge
from directory.verification.posture import PostureResult
from directory.verification.publicsuffix import is_public_suffix

if TYPE_CHECKING:
    from directory.service import Directory

T = TypeVar("T")


@dataclass(frozen=True)
class Challenge:
    domain: Domain
    name: str  # where to publish the TXT record
    value: str  # what to publish
    token: str
    expires: datetime
    replaced: bool = False  # the domain had a challenge before: that token no longer verifies

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain.name,
            "domain_id": self.domain.id,
            "record": {"name": self.name, "type": "TXT", "value": self.value},
            "expires": rfc3339(self.expires),
            "replaced_previous": self.replaced,
        }


class DnsVerification:
    def __init__(self, directory: Directory) -> None:
        settings = directory.settings
        self.directory = directory
        self.store = directory.store
        self.clock = directory.clock
        self.settings = settings
        tools = Tools.from_settings(settings)  # the same as each worker process of a CheckPool
        self.client, self.validator, self.checker = tools.client, tools.validator, tools.checker

    # --- claim -----------------------------------------------------------------------------
    def claim(
        self, p: Principal, org_id: str, name: str, subaddress_separator: str | None = None
    ) -> Challenge:
        """Claim a domain for an organisation (or re-issue its challenge): audited."""
        authorize(p, Action.MANAGE_DOMAINS, org_id)
        clean = normalise_domain(name)
        if is_public_suffix(clean):
            raise malformed(f"{clean} is a public suffix; claim a domain below it", field="name")
        domain = self.store.domain_by_name(clean)
        if domain is not None and domain.organisation_id != org_id:
            raise conflict(f"{clean} is already claimed by another organisation")
        replaced = False
        if domain is None:
            domain = self.directory.registration.claim_domain(
                p, org_id, clean, subaddress_separator
            )
        else:
            replaced = bool((self.store.domain_row(domain.id) or {}).get("challenge_token"))
        now = self.clock()
        token, expires = new_token(), expiry_for(now, self.settings.challenge_valid_days)
        with self.store.write(p.name, now) as w:
            w.change(
                Domain,
                domain.id,
                {"challenge_token": token, "challenge_expires": expires},
                "domain.challenge-issue",
            )
        fresh = self._domain(domain.id)
        return Challenge(
            fresh, challenge_name(clean), record_text(token, expires), token, expires, replaced
        )

    # --- verification ----------------------------------------------------------------------
    def verify(self, p: Principal, domain_id: str) -> ChallengeResult:
        domain = self._domain(domain_id)
        authorize(p, Action.VERIFY_DOMAIN, domain.organisation_id)
        result = _run(self._challenge(domain))
        self._record_verification(p, domain, result)
        return result

    async def _challenge(self, domain: Domain) -> ChallengeResult:
        job = self._challenge_job(domain, self.clock())
        return await run_challenge(self.client, job, self.validator)

    def _challenge_job(self, domain: Domain, now: datetime) -> ChallengeJob:
        """What the challenge check needs from the store (it runs here or in a worker)."""
        row = self.store.domain_row(domain.id) or {}
        initial = not (domain.verified_at is not None and domain.verification_method == "dns")
        token, expires = row.get("challenge_token"), row.get("challenge_expires")
        return ChallengeJob(domain.name, token, expires, now, initial)

    def _record_verification(self, p: Principal, domain: Domain, result: ChallengeResult) -> None:
        now = result.checked_at
        with self.store.write(p.name, now) as w:
            if result.temporary_failure:  # keep the last good state; say what happened
                w.audit("domain.verify-dns-deferred", "domain", domain.id, None, result.as_dict())
                return
            if result.verified:
                changes: dict[str, Any] = {
                    "verified_at": now,
                    "verification_method": "dns",
                    "verification_evidence": result.evidence(),
                }
                w.change(Domain, domain.id, changes, "domain.verify-dns")
            elif domain.verification_method == "dns" or domain.verified_at is None:
                changes = {
                    "verified_at": None,
                    "verification_method": None,
                    "verification_evidence": result.evidence(),
                }
                w.change(Domain, domain.id, changes, "domain.verify-dns-failed")
            else:  # verified by hand: a failed DNS attempt is recorded, the manual record stays
                w.audit("domain.verify-dns-failed", "domain", domain.id, None, result.as_dict())

    # --- posture ---------------------------------------------------------------------------
    def preview(self, p: Principal, name: str) -> PostureResult:
        """Check any domain's posture (before it is claimed): nothing is recorded."""
        authorize(p, Action.PREVIEW_POSTURE)
        return _run(self.checker.check(normalise_domain(name), self.clock()))

    def check(self, p: Principal, domain_id: str) -> PostureResult:
        """Check a directory domain's posture and record it (or the temporary failure)."""
        domain = self._domain(domain_id)
        authorize(p, Action.CHECK_POSTURE, domain.organisation_id)
        result = _run(self.checker.check(domain.name, self.clock()))
        self._record_posture(p, domain, result)
        return result

    def _record_posture(self, p: Principal, domain: Domain, result: PostureResult) -> None:
        with self.store.write(p.name, result.checked_at) as w:
            if result.posture is None:
                w.audit("domain.posture-dns-deferred", "domain", domain.id, None, result.as_dict())
                return
            stored = posture_with(
                result.posture,
                findings=[f.as_dict() for f in result.findings],
                records=result.records,
            )
            w.change(Domain, domain.id, {"posture": stored}, "domain.posture-dns")

    # --- the schedule ----------------------------------------------------------------------
    def due(self, now: datetime) -> tuple[list[Domain], list[Domain]]:
        """(domains to (re-)verify, domains whose posture to check) at `now`."""
        reverify = timedelta(days=self.settings.reverify_interval_days)
        posture_every = timedelta(hours=self.settings.posture_interval_hours)
        verify, check = [], []
        for domain in self.store.domains():
            row = self.store.domain_row(domain.id) or {}
            if domain.verification_method == "dns" and domain.verified_at is not None:
                if domain.verified_at + reverify <= now:
                    verify.append(domain)
            elif domain.verified_at is None and row.get("challenge_token"):
                expires = row.get("challenge_expires")
                if expires is not None and expires > now:
                    verify.append(domain)  # a pending claim: verified as soon as it is published
            if domain.posture is None or domain.posture.checked_at + posture_every <= now:
                check.append(domain)
        return verify, check

    def run_due(
        self, p: Principal, concurrency: int = 20, processes: int = 1
    ) -> list[dict[str, Any]]:
        """Re-verify and re-check what is due, at most `concurrency` checks in flight; recorded
        here (audited), in the due list's order. `processes` > 1 runs the checks in that many
        worker processes (`CheckPool`); the results are recorded the same way, in this process.
        """
        authorize(p, Action.RUN_SCHEDULE)
        if processes < 1 or concurrency < 1:
            raise malformed("processes and concurrency must be at least 1")
        now = self.clock()
        verify, check = self.due(now)
        if processes > 1:
            return self._run_pooled(p, now, verify, check, concurrency, processes)

        async def everything() -> tuple[list[ChallengeResult], list[PostureResult]]:
            gate = asyncio.Semaphore(concurrency)

            async def bounded(job: Awaitable[T]) -> T:
                async with gate:
                    return await job

            challenges = await asyncio.gather(*(bounded(self._challenge(d)) for d in verify))
            postures = await asyncio.gather(
                *(bounded(self.checker.check(d.name, now)) for d in check)
            )
            return list(challenges), list(postures)

        challenges, postures = _run(everything())
        return self._record_due(p, verify, challenges, check, postures)

    def _run_pooled(
        self,
        p: Principal,
        now: datetime,
        verify: list[Domain],
        check: list[Domain],
        concurrency: int,
        processes: int,
    ) -> list[dict[str, Any]]:
        """The checks in worker processes; a challenge is checked as of `now` (the sweep's
        start, as every posture check of a sweep already is)."""
        jobs: list[ChallengeJob | PostureJob] = [self._challenge_job(d, now) for d in verify]
        jobs += [PostureJob(d.name, now) for d in check]
        if not jobs:
            return []
        with CheckPool(self.settings, processes, concurrency) as pool:
            results = pool.run(jobs)
        challenges = [r for r in results[: len(verify)] if isinstance(r, ChallengeResult)]
        postures = [r for r in results[len(verify) :] if isinstance(r, PostureResult)]
        return self._record_due(p, verify, challenges, check, postures)

    def _record_due(
        self,
        p: Principal,
        verify: list[Domain],
        challenges: list[ChallengeResult],
        check: list[Domain],
        postures: list[PostureResult],
    ) -> list[dict[str, Any]]:
        report: list[dict[str, Any]] = []
        for domain, challenge in zip(verify, challenges, strict=True):
            self._record_verification(p, domain, challenge)
            report.append({"domain": domain.name, "job": "verify", **_status(challenge.as_dict())})
        for domain, posture in zip(check, postures, strict=True):
            self._record_posture(p, domain, posture)
            report.append({"domain": domain.name, "job": "posture", **_status(posture.as_dict())})
        return report

    def _domain(self, domain_id: str) -> Domain:
        domain = self.store.domain(domain_id)
        if domain is None or domain.status is not RecordStatus.ACTIVE:
            raise not_found(f"no domain {domain_id}")
        return domain


def _status(result: dict[str, Any]) -> dict[str, Any]:
    worst = [f["code"] for f in result["findings"] if f["severity"] in ("ERROR", "FATAL")]
    return {"status": result["status"], "problems": worst}


def _run(job: Awaitable[T]) -> T:
    async def main() -> T:
        return await job

    return asyncio.run(main())
