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
from directory.store import rows
from directory.store import tables as t
from directory.verification.challenge import (
    ChallengeResult,
    challenge_name,
    check_challenge,
    expiry_for,
    new_token,
    record_text,
    rfc3339,
)
from directory.verification.dnssec import Validator, load_anchors
from directory.verification.findings import finding
from directory.verification.mtasts import PolicyFetcher, tls_context
from directory.verification.posture import PostureChecker, PostureResult
from directory.verification.publicsuffix import is_public_suffix
from directory.verification.resolver import DnsClient, TemporaryFailure

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain.name,
            "domain_id": self.domain.id,
            "record": {"name": self.name, "type": "TXT", "value": self.value},
            "expires": rfc3339(self.expires),
        }


class DnsVerification:
    def __init__(self, directory: Directory) -> None:
        settings = directory.settings
        self.directory = directory
        self.store = directory.store
        self.clock = directory.clock
        self.settings = settings
        self.client = DnsClient.from_settings(settings)
        self.validator = Validator(self.client, load_anchors(settings.dns_trust_anchors_path))
        fetcher = PolicyFetcher(
            self.client,
            tls_context(settings.mta_sts_ca_file),
            settings.mta_sts_port,
            settings.mta_sts_timeout,
        )
        self.checker = PostureChecker(self.client, self.validator, fetcher)

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
        if domain is None:
            domain = self.directory.registration.claim_domain(
                p, org_id, clean, subaddress_separator
            )
        now = self.clock()
        token, expires = new_token(), expiry_for(now, self.settings.challenge_valid_days)
        with self.store.write(p.name, now) as w:
            w.update(
                t.domains,
                domain.id,
                {"challenge_token": token, "challenge_expires": expires},
                "domain.challenge-issue",
            )
        fresh = self._domain(domain.id)
        return Challenge(fresh, challenge_name(clean), record_text(token, expires), token, expires)

    # --- verification ----------------------------------------------------------------------
    def verify(self, p: Principal, domain_id: str) -> ChallengeResult:
        domain = self._domain(domain_id)
        authorize(p, Action.VERIFY_DOMAIN, domain.organisation_id)
        result = _run(self._challenge(domain))
        self._record_verification(p, domain, result)
        return result

    async def _challenge(self, domain: Domain) -> ChallengeResult:
        row = self.store.domain_row(domain.id) or {}
        now = self.clock()
        if is_public_suffix(domain.name):
            result = ChallengeResult(domain.name, challenge_name(domain.name), now)
            result.findings.append(finding("domain.public-suffix", domain.name))
            return result
        initial = not (domain.verified_at is not None and domain.verification_method == "dns")
        try:
            return await check_challenge(
                self.client,
                domain.name,
                row.get("challenge_token"),
                row.get("challenge_expires"),
                now,
                initial=initial,
            )
        except TemporaryFailure as exc:
            result = ChallengeResult(domain.name, challenge_name(domain.name), now)
            result.temporary_failure = True
            result.findings.append(finding("dns.temporary-failure", str(exc)))
            return result

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
                w.update(t.domains, domain.id, changes, "domain.verify-dns")
            elif domain.verification_method == "dns" or domain.verified_at is None:
                changes = {
                    "verified_at": None,
                    "verification_method": None,
                    "verification_evidence": result.evidence(),
                }
                w.update(t.domains, domain.id, changes, "domain.verify-dns-failed")
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
            stored = {
                **rows.posture_to_json(result.posture),
                "findings": [f.as_dict() for f in result.findings],
                "records": result.records,
            }
            w.update(t.domains, domain.id, {"posture": stored}, "domain.posture-dns")

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

    def run_due(self, p: Principal, concurrency: int = 20) -> list[dict[str, Any]]:
        authorize(p, Action.RUN_SCHEDULE)
        now = self.clock()
        verify, check = self.due(now)

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
