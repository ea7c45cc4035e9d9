"""The DNS client for verification and posture: nameservers, timeouts and retries from settings.

Every query goes to the configured nameservers (or the system's). The DO bit is set (so that
RRSIGs come back for DNSSEC validation) unless the caller says it will not validate the answer:
signatures it would never check only make the response bigger and slower to parse. The answer
is one of: records, no records (NXDOMAIN or no data: definite), or `TemporaryFailure` (timeout,
SERVFAIL, REFUSED, network error: never a pass, never "no records"). CNAME chains are followed
here, with loop detection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset

from directory.errors import DirectoryError, ErrorKind
from directory.settings import Settings

MAX_CNAME_HOPS = 8


class TemporaryFailure(Exception):
    """A DNS query could not be answered now: keep the last good state."""

    def __init__(self, name: str, rdtype: str, why: str) -> None:
        super().__init__(f"{name} {rdtype}: {why}")
        self.name = name
        self.rdtype = rdtype
        self.why = why


class CnameLoop(Exception):
    def __init__(self, chain: list[str]) -> None:
        super().__init__(" -> ".join(chain))
        self.chain = chain


@dataclass(frozen=True)
class Records:
    """One name and type's answer, after following CNAMEs."""

    name: str  # asked
    rdtype: str
    rrset: dns.rrset.RRset | None
    rrsigs: dns.rrset.RRset | None
    chain: list[str] = field(default_factory=list)  # CNAME targets followed, in order
    nxdomain: bool = False

    @property
    def present(self) -> bool:
        return self.rrset is not None and len(self.rrset) > 0

    def texts(self) -> list[str]:
        """TXT records, each one's strings concatenated (RFC 7208 3.3)."""
        if self.rrset is None:
            return []
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self.rrset]

    def raw(self) -> list[str]:
        return [r.to_text() for r in self.rrset] if self.rrset is not None else []


def parse_nameservers(text: str) -> list[tuple[str, int]]:
    """ "host" or "host:port" (IPv6 as "[::1]:5353" or bare "::1"), comma-separated."""
    out: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, port = item, 53
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            if rest:
                port = _port(item, rest.removeprefix(":"))
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            port = _port(item, port_text)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise DirectoryError(
                ErrorKind.CONFIG, f"dns_nameservers: {item!r} is not an IP address[:port]"
            ) from None
        out.append((host, port))
    return out


def _port(item: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise DirectoryError(ErrorKind.CONFIG, f"dns_nameservers: bad port in {item!r}")
    return int(text)


class DnsClient:
    def __init__(self, nameservers: list[tuple[str, int]], timeout: float, retries: int) -> None:
        if not nameservers:
            raise DirectoryError(ErrorKind.CONFIG, "no DNS nameservers are configured")
        self.nameservers = nameservers
        self.timeout = timeout
        self.retries = retries

    @classmethod
    def from_settings(cls, settings: Settings) -> DnsClient:
        servers = parse_nameservers(settings.dns_nameservers)
        if not servers:
            try:
                system = dns.resolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                raise DirectoryError(
                    ErrorKind.CONFIG, f"no dns_nameservers set and no system resolver: {exc}"
                ) from None
            servers = [(str(ns), 53) for ns in system.nameservers]
        return cls(servers, settings.dns_timeout, settings.dns_retries)

    async def message(
        self, name: str, rdtype: str, *, signatures: bool = True
    ) -> dns.message.Message:
        """The response for one question (NOERROR or NXDOMAIN), or TemporaryFailure."""
        query = dns.message.make_query(name, rdtype, want_dnssec=signatures, payload=1232)
        query.flags |= dns.flags.RD
        why = "no answer"
        for _round in range(self.retries + 1):
            for host, port in self.nameservers:
                try:
                    response, _tcp = await dns.asyncquery.udp_with_fallback(
                        query, host, timeout=self.timeout, port=port
                    )
                except dns.exception.Timeout:
                    why = f"timed out after {self.timeout:g}s"
                    continue
                except (OSError, dns.exception.DNSException) as exc:
                    why = f"{type(exc).__name__}: {exc}"
                    continue
                rcode = response.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    return response
                why = dns.rcode.to_text(rcode)
        raise TemporaryFailure(name, rdtype, why)

    async def records(self, name: str, rdtype: str, *, signatures: bool = True) -> Records:
        """Records of one type at a name, following CNAMEs (in and across responses).

        `signatures=False`: the answer will not be DNSSEC-validated, so the RRSIGs are not asked
        for (and `Records.rrsigs` is None)."""
        wanted = dns.rdatatype.from_text(rdtype)
        current = dns.name.from_text(name)
        seen = {current}
        chain: list[str] = []
        while True:
            response = await self.message(current.to_text(), rdtype, signatures=signatures)
            while True:
                rrset = _find(response, current, wanted)
                if rrset is not None:
                    sigs = _find(response, current, dns.rdatatype.RRSIG, covers=wanted)
                    return Records(name, rdtype, rrset, sigs, chain)
                cname = _find(response, current, dns.rdatatype.CNAME)
                if cname is None or wanted == dns.rdatatype.CNAME:
                    nx = response.rcode() == dns.rcode.NXDOMAIN
                    return Records(name, rdtype, None, None, chain, nxdomain=nx)
                target = cname[0].target
                chain.append(target.to_text())
                if target in seen or len(chain) > MAX_CNAME_HOPS:
                    raise CnameLoop([name, *chain])
                seen.add(target)
                current = target
                if _find(response, current, wanted) is None and (
                    _find(response, current, dns.rdatatype.CNAME) is None
                ):
                    break  # the chain leaves this response: ask again for the target


def _find(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    covers: dns.rdatatype.RdataType = dns.rdatatype.NONE,
) -> dns.rrset.RRset | None:
    for rrset in response.answer:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.covers == covers:
            return rrset
    return None
