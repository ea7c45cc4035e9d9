"""DNSSEC validation with dnspython, from configured trust anchors down to the answer.

We validate the chain ourselves rather than trust a resolver's AD bit (docs/dns.md says why):
an RRset counts as secure only when its RRSIG verifies with a DNSKEY set that is itself signed
by a key matching a DS (or DNSKEY) trust anchor, or a DS set that is secure in the same way one
level up. Anything unsigned, or whose chain does not reach an anchor, is "insecure"; anything
whose signatures do not verify is "bogus". Neither counts. Temporary DNS failures propagate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from directory.errors import DirectoryError, ErrorKind
from directory.verification.resolver import DnsClient

MAX_DEPTH = 12
KEY_CACHE_SECONDS = 300.0


class Security(StrEnum):
    SECURE = "secure"
    INSECURE = "insecure"  # unsigned, or no chain to a trust anchor
    BOGUS = "bogus"  # signed, but the signatures or the chain do not verify


@dataclass(frozen=True)
class Anchors:
    ds: dict[dns.name.Name, list[DS]]
    keys: dict[dns.name.Name, list[DNSKEY]]


def load_anchors(path: Path) -> Anchors:
    """DS and DNSKEY lines in zone-file syntax (owner names absolute)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DirectoryError(ErrorKind.CONFIG, f"DNSSEC trust anchors {path}: {exc}") from None
    ds: dict[dns.name.Name, list[DS]] = {}
    keys: dict[dns.name.Name, list[DNSKEY]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split(";", 1)[0].split()
        if not tokens:
            continue
        try:
            owner = dns.name.from_text(tokens[0])
            rest = tokens[1:]
            if rest and rest[0].isdigit():
                rest = rest[1:]
            if rest and rest[0].upper() == "IN":
                rest = rest[1:]
            rdtype = dns.rdatatype.from_text(rest[0])
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, " ".join(rest[1:]))
        except (dns.exception.DNSException, IndexError, ValueError) as exc:
            raise DirectoryError(
                ErrorKind.CONFIG, f"DNSSEC trust anchors {path} line {number}: {exc or 'bad'}"
            ) from None
        if isinstance(rdata, DS):
            ds.setdefault(owner, []).append(rdata)
        elif isinstance(rdata, DNSKEY):
            keys.setdefault(owner, []).append(rdata)
        else:
            raise DirectoryError(
                ErrorKind.CONFIG, f"DNSSEC trust anchors {path} line {number}: not DS or DNSKEY"
            )
    if not ds and not keys:
        raise DirectoryError(ErrorKind.CONFIG, f"DNSSEC trust anchors {path}: no DS or DNSKEY")
    return Anchors(ds, keys)


class Validator:
    """Validates RRsets; caches validated DNSKEY sets for a few minutes (per process)."""

    def __init__(self, client: DnsClient, anchors: Anchors) -> None:
        self.client = client
        self.anchors = anchors
        self._keys: dict[dns.name.Name, tuple[float, Security, dns.rrset.RRset | None]] = {}

    async def check(
        self, rrset: dns.rrset.RRset | None, rrsigs: dns.rrset.RRset | None
    ) -> Security:
        if rrset is None or rrsigs is None or len(rrsigs) == 0:
            return Security.INSECURE
        signer: dns.name.Name = rrsigs[0].signer
        if not rrset.name.is_subdomain(signer):
            return Security.BOGUS
        security, keys = await self._zone_keys(signer, 0)
        if security is not Security.SECURE or keys is None:
            return security
        try:
            dns.dnssec.validate(rrset, rrsigs, {signer: keys}, now=time.time())
        except dns.exception.ValidationFailure:
            return Security.BOGUS
        return Security.SECURE

    async def _zone_keys(
        self, zone: dns.name.Name, depth: int
    ) -> tuple[Security, dns.rrset.RRset | None]:
        cached = self._keys.get(zone)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        result = await self._zone_keys_uncached(zone, depth)
        self._keys[zone] = (time.monotonic() + KEY_CACHE_SECONDS, *result)
        return result

    async def _zone_keys_uncached(
        self, zone: dns.name.Name, depth: int
    ) -> tuple[Security, dns.rrset.RRset | None]:
        if depth > MAX_DEPTH:
            return Security.INSECURE, None
        found = await self.client.records(zone.to_text(), "DNSKEY")
        if found.rrset is None or found.chain or found.rrsigs is None:
            return Security.INSECURE, None
        dnskeys = found.rrset
        # 1. Which of the zone's keys are vouched for: by an anchor, or by a secure DS set.
        if zone in self.anchors.ds or zone in self.anchors.keys:
            ds_set: list[DS] = self.anchors.ds.get(zone, [])
            anchored_keys = self.anchors.keys.get(zone, [])
        else:
            if zone == dns.name.root:
                return Security.INSECURE, None
            ds_found = await self.client.records(zone.to_text(), "DS")
            if ds_found.rrset is None or ds_found.rrsigs is None:
                return Security.INSECURE, None
            parent: dns.name.Name = ds_found.rrsigs[0].signer
            if parent == zone or not zone.is_subdomain(parent):
                return Security.BOGUS, None
            parent_security, parent_keys = await self._zone_keys(parent, depth + 1)
            if parent_security is not Security.SECURE or parent_keys is None:
                return parent_security, None
            try:
                dns.dnssec.validate(ds_found.rrset, ds_found.rrsigs, {parent: parent_keys})
            except dns.exception.ValidationFailure:
                return Security.BOGUS, None
            ds_set, anchored_keys = list(ds_found.rrset), []
        trusted = [k for k in dnskeys if k in anchored_keys or _matches_ds(zone, k, ds_set)]
        if not trusted:
            return Security.BOGUS, None
        # 2. The DNSKEY set must be signed by one of the vouched-for keys.
        trusted_set = dns.rrset.from_rdata_list(zone, dnskeys.ttl, trusted)
        try:
            dns.dnssec.validate(dnskeys, found.rrsigs, {zone: trusted_set})
        except dns.exception.ValidationFailure:
            return Security.BOGUS, None
        return Security.SECURE, dnskeys


def _matches_ds(zone: dns.name.Name, key: DNSKEY, ds_set: list[DS]) -> bool:
    for ds in ds_set:
        try:
            if dns.dnssec.make_ds(zone, key, ds.digest_type) == ds:
                return True
        except (dns.exception.UnsupportedAlgorithm, ValueError):
            continue
    return False
