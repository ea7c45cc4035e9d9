"""PostureChecker: MX, SPF, DMARC, MTA-STS, TLS-RPT and DANE of one domain, as findings.

Every query is made through `DnsClient`; the result carries the raw records seen and the
findings, and maps onto `directory.model.Posture` (source "dns"). A temporary failure of any
query makes the whole result temporary: it is reported and never recorded as a posture.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dns.name

from directory.model import DmarcPolicy, Posture
from directory.verification import records as rec
from directory.verification.dnssec import Security, Validator
from directory.verification.findings import Finding, Severity, finding
from directory.verification.mtasts import PolicyFetcher, PolicyFetchError
from directory.verification.publicsuffix import organisational_domain
from directory.verification.resolver import DnsClient, Records, TemporaryFailure

SPF_LOOKUP_LIMIT = 10


@dataclass
class PostureResult:
    domain: str
    checked_at: datetime
    findings: list[Finding] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)
    posture: Posture | None = None  # None when the check failed temporarily

    @property
    def temporary_failure(self) -> bool:
        return self.posture is None

    def add(self, code: str, detail: str | None = None) -> None:
        self.findings.append(finding(code, detail))

    def as_dict(self) -> dict[str, Any]:
        p = self.posture
        return {
            "domain": self.domain,
            "checked_at": self.checked_at.isoformat().replace("+00:00", "Z"),
            "status": "temporary-failure" if p is None else "checked",
            "posture": None
            if p is None
            else {
                "mx": p.mx,
                "tls": p.tls,
                "mta_sts": p.mta_sts,
                "dane": p.dane,
                "dmarc": p.dmarc.label if p.dmarc is not None else None,
            },
            "findings": [f.as_dict() for f in self.findings],
            "records": self.records,
        }


class PostureChecker:
    def __init__(self, client: DnsClient, validator: Validator, fetcher: PolicyFetcher) -> None:
        self.dns = client
        self.validator = validator
        self.fetcher = fetcher

    async def check(self, domain: str, now: datetime) -> PostureResult:
        result = PostureResult(domain, now)
        try:
            async with asyncio.TaskGroup() as group:
                mx_task = group.create_task(self._mx(domain, result))
                group.create_task(self._spf(domain, result))
                dmarc_task = group.create_task(self._dmarc(domain, result))
                sts_task = group.create_task(self._mta_sts(domain, result))
                group.create_task(self._tlsrpt(domain, result))
            hosts, mx_secure = mx_task.result()
            dmarc, sts = dmarc_task.result(), sts_task.result()
            dane = await self._dane(hosts, mx_secure, result) if hosts else False
            if sts is not None and sts.mode != "none":
                self._sts_covers(sts, hosts, result)
        except* (TemporaryFailure, PolicyFetchError) as group_error:
            first = group_error.exceptions[0]
            why = first.why if isinstance(first, PolicyFetchError) else str(first)
            result.findings = [finding("dns.temporary-failure", why)]
            result.records = {}
        if result.findings and result.findings[0].code == "dns.temporary-failure":
            return result
        if any(f.code == "mta_sts.policy-unreachable" for f in result.findings):
            return result  # incomplete: the stored posture stays until a complete check
        mode = sts.mode if sts is not None and sts.mode != "none" else None
        if mode == "enforce" and any(f.code == "mta_sts.mx-mismatch" for f in result.findings):
            mode = "testing"  # an enforce policy that does not cover the MX protects nothing
        result.posture = Posture(
            checked_at=now,
            mx=bool(hosts) or any(f.code == "mx.implicit" for f in result.findings),
            tls=mode is not None or dane,
            mta_sts=mode,
            dane=dane,
            dmarc=dmarc,
            source="dns",
            evidence=_summary(result.findings),
        )
        return result

    # --- MX --------------------------------------------------------------------------------
    async def _mx(self, domain: str, result: PostureResult) -> tuple[list[str], bool]:
        found = await self.dns.records(domain, "MX")
        result.records["mx"] = found.raw()
        if found.nxdomain:
            result.add("mx.nxdomain", domain)
            return [], False
        if not found.present:
            address = await self.dns.records(domain, "A", signatures=False)
            if not address.present:
                address = await self.dns.records(domain, "AAAA", signatures=False)
            result.records["address"] = address.raw()
            result.add("mx.implicit" if address.present else "mx.none", domain)
            return [], False
        assert found.rrset is not None
        exchanges = {r.exchange for r in found.rrset}
        if exchanges == {dns.name.root}:
            result.add("mx.null", domain)
            return [], False
        hosts = sorted(
            {x.to_text(omit_final_dot=True).lower() for x in exchanges if x != dns.name.root}
        )
        result.add("mx.present", ", ".join(hosts))
        secure = await self.validator.check(found.rrset, found.rrsigs) is Security.SECURE
        return hosts, secure

    # --- SPF -------------------------------------------------------------------------------
    async def _spf(self, domain: str, result: PostureResult) -> None:
        texts = [t for t in await self._texts(domain) if rec.is_spf(t)]
        result.records["spf"] = texts
        if not texts:
            result.add("spf.missing", domain)
            return
        if len(texts) > 1:
            result.add("spf.multiple", f"{len(texts)} records")
            return
        try:
            spf = rec.parse_spf(texts[0])
            lookups = await self._spf_lookups(spf, {domain}, result)
        except rec.RecordError as exc:
            result.add("spf.syntax", str(exc))
            return
        if lookups > SPF_LOOKUP_LIMIT:
            result.add("spf.too-many-lookups", f"{lookups} lookups")
        qualifier = spf.all_qualifier
        if qualifier is None and spf.redirect is None:
            result.add("spf.no-all")
        elif qualifier == "~":
            result.add("spf.softfail-all")
        elif qualifier == "?":
            result.add("spf.neutral-all")
        elif qualifier == "+":
            result.add("spf.pass-all")
        elif lookups <= SPF_LOOKUP_LIMIT and qualifier == "-":
            result.add("spf.ok", texts[0])

    async def _texts(self, name: str) -> list[str]:
        return (await self.dns.records(name, "TXT", signatures=False)).texts()

    async def _spf_lookups(self, spf: rec.Spf, seen: set[str], result: PostureResult) -> int:
        """Lookups of this record and, recursively, of its includes and redirect."""
        total = spf.lookups
        for target in [*spf.includes, *([spf.redirect] if spf.redirect else [])]:
            if target in seen or total > SPF_LOOKUP_LIMIT:
                total += SPF_LOOKUP_LIMIT  # a loop: certainly over the limit
                continue
            texts = [t for t in await self._texts(target) if rec.is_spf(t)]
            if len(texts) != 1:
                result.add("spf.include-missing", target)
                continue
            total += await self._spf_lookups(rec.parse_spf(texts[0]), seen | {target}, result)
        return total

    # --- DMARC -----------------------------------------------------------------------------
    async def _dmarc(self, domain: str, result: PostureResult) -> DmarcPolicy | None:
        texts = await self._dmarc_texts(domain)
        source, subdomain = domain, False
        if not texts:
            org = organisational_domain(domain)
            if org is not None and org != domain:
                texts = await self._dmarc_texts(org)
                if texts:
                    source, subdomain = org, True
                    result.add("dmarc.org-fallback", f"_dmarc.{org}")
        result.records["dmarc"] = {"name": f"_dmarc.{source}", "records": texts}
        if not texts:
            result.add("dmarc.missing", f"_dmarc.{domain}")
            return None
        if len(texts) > 1:
            result.add("dmarc.multiple", f"{len(texts)} records at _dmarc.{source}")
            return None
        try:
            record = rec.parse_dmarc(texts[0])
        except rec.RecordError as exc:
            result.add("dmarc.malformed", str(exc))
            return None
        policy, partial = rec.effective_dmarc(record, subdomain=subdomain)
        if partial:
            result.add("dmarc.partial", f"pct={record.pct}, t={'y' if record.testing else 'n'}")
        if policy is DmarcPolicy.NONE:
            result.add("dmarc.policy-none")
        if not record.rua:
            result.add("dmarc.no-rua")
        for tag in record.unknown:
            result.add("dmarc.unknown-tag", tag)
        result.add("dmarc.ok", f"effective policy {policy.label}")
        return policy

    async def _dmarc_texts(self, domain: str) -> list[str]:
        found = await self.dns.records(f"_dmarc.{domain}", "TXT", signatures=False)
        return [t for t in found.texts() if rec.is_dmarc(t)]

    # --- MTA-STS ---------------------------------------------------------------------------
    async def _mta_sts(self, domain: str, result: PostureResult) -> rec.StsPolicy | None:
        found = await self.dns.records(f"_mta-sts.{domain}", "TXT", signatures=False)
        texts = [t for t in found.texts() if t.startswith("v=STSv1")]
        result.records["mta_sts"] = {"txt": texts}
        if not texts:
            result.add("mta_sts.missing", f"_mta-sts.{domain}")
            return None
        if len(texts) > 1:
            result.add("mta_sts.multiple", f"{len(texts)} records")
            return None
        try:
            policy_id = rec.parse_mta_sts_record(texts[0])
        except rec.RecordError as exc:
            result.add("mta_sts.record-malformed", str(exc))
            return None
        try:
            fetched = await self.fetcher.fetch(domain)
        except PolicyFetchError as exc:
            # unreachable (timeout, refused): its own finding; MX, SPF, DMARC ... still stand
            result.add(
                "mta_sts.policy-unreachable" if exc.temporary else "mta_sts.policy-unavailable",
                exc.why,
            )
            return None
        result.records["mta_sts"].update(
            {
                "id": policy_id,
                "url": fetched.url,
                "address": fetched.address,
                "policy": fetched.text,
            }
        )
        if fetched.content_type.split(";")[0].strip().lower() != "text/plain":
            result.add("mta_sts.content-type", fetched.content_type or "none")
        try:
            policy = rec.parse_sts_policy(fetched.text)
        except rec.RecordError as exc:
            result.add("mta_sts.policy-malformed", str(exc))
            return None
        if policy.max_age < 86400:
            result.add("mta_sts.short-max-age", f"{policy.max_age}s")
        if policy.mode == "testing":
            result.add("mta_sts.testing")
        elif policy.mode == "none":
            result.add("mta_sts.mode-none")
        else:
            result.add("mta_sts.ok", f"mode {policy.mode}, id {policy_id}")
        return policy

    def _sts_covers(self, policy: rec.StsPolicy, hosts: list[str], result: PostureResult) -> None:
        for host in hosts:
            if not any(rec.mx_matches(host, pattern) for pattern in policy.mx):
                result.add("mta_sts.mx-mismatch", host)

    # --- TLS-RPT ---------------------------------------------------------------------------
    async def _tlsrpt(self, domain: str, result: PostureResult) -> None:
        found = await self.dns.records(f"_smtp._tls.{domain}", "TXT", signatures=False)
        texts = [t for t in found.texts() if t.startswith("v=TLSRPTv1")]
        result.records["tlsrpt"] = texts
        if not texts:
            result.add("tlsrpt.missing", f"_smtp._tls.{domain}")
        elif len(texts) > 1:
            result.add("tlsrpt.multiple", f"{len(texts)} records")
        else:
            try:
                result.add("tlsrpt.ok", ", ".join(rec.parse_tlsrpt(texts[0])))
            except rec.RecordError as exc:
                result.add("tlsrpt.malformed", str(exc))

    # --- DANE ------------------------------------------------------------------------------
    async def _dane(self, hosts: list[str], mx_secure: bool, result: PostureResult) -> bool:
        lookups: list[Records] = await asyncio.gather(
            *(self.dns.records(f"_25._tcp.{host}", "TLSA") for host in hosts)
        )
        result.records["tlsa"] = {
            f"_25._tcp.{h}": r.raw() for h, r in zip(hosts, lookups, strict=True)
        }
        secure_all = True
        for host, found in zip(hosts, lookups, strict=True):
            if not found.present:
                result.add("dane.missing", f"_25._tcp.{host}")
                secure_all = False
                continue
            security = await self.validator.check(found.rrset, found.rrsigs)
            if security is Security.BOGUS:
                result.add("dane.bogus", f"_25._tcp.{host}")
                secure_all = False
            elif security is Security.INSECURE:
                # no RRSIG at all, or signed in a zone the trust anchors do not reach
                code = "dane.unchained" if found.rrsigs else "dane.unsigned"
                result.add(code, f"_25._tcp.{host}")
                secure_all = False
            assert found.rrset is not None
            if any(r.usage in (0, 1) for r in found.rrset):
                result.add("dane.pkix-usage", f"_25._tcp.{host}")
        if secure_all and not mx_secure:
            result.add("dane.mx-insecure")
            return False
        if secure_all:
            result.add("dane.ok", ", ".join(hosts))
        return secure_all


def _summary(findings: list[Finding]) -> str:
    worst = [f.code for f in findings if f.severity >= Severity.WARNING]
    return "dns check; " + (", ".join(worst) if worst else "no warnings")
