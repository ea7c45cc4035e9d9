"""Importing a peer's signed trust list: verify, check, normalise, then replace its entries.

1. Size and envelope shape; the key id must be THE peer's, the signature its key's over exactly
   the payload bytes.
2. The payload: format, issued_at not in the future (300 s skew), valid_until in the future,
   issued_at strictly after the last list imported from the peer (replay or rollback refused, in
   the write transaction itself).
3. Every domain and address normalised (directory.address); one malformed entry refuses the
   whole list.
4. Domains the local register holds are skipped (the local register is authoritative for its
   own domains), as are domains outside the peer's name constraints (the suffixes it was
   added to speak for) and domains another peer lists already; all are reported.
5. One transaction: the peer's entries replaced, the list's facts and a report audited.
Any failure changes nothing.
"""

from __future__ import annotations

import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from directory.address import normalise, normalise_domain
from directory.errors import DirectoryError, conflict, malformed
from directory.federation.records import Peer, PeerStatus, permits
from directory.federation.trustlist import FORMAT, digest, stamp
from directory.model import DmarcPolicy, RecipientRole, Sector, TrustLevel
from directory.policy import Policy
from directory.store.federation import FederationStore
from pki.errors import PkiError
from pki.signing import from_b64url, load_public_key, verify

MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_DOMAINS = 100_000
MAX_MAILBOXES = 1_000_000
MAX_EXCLUSIONS = 10_000
SKEW = timedelta(seconds=300)
ROLES = frozenset(r.value for r in RecipientRole)
SECTORS = frozenset(s.value for s in Sector)
MTA_STS = (None, "testing", "enforce")
OUTSIDE = "outside-name-constraints"


@dataclass
class ImportReport:
    peer: str
    directory: str  # the name the list gives its issuer
    issued_at: datetime
    valid_until: datetime
    digest: str
    domains: int = 0
    mailboxes: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"domain", "reason", ...}

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "directory": self.directory,
            "issued_at": stamp(self.issued_at),
            "valid_until": stamp(self.valid_until),
            "digest": self.digest,
            "imported": {"domains": self.domains, "mailboxes": self.mailboxes},
            "skipped": list(self.skipped),
        }


def parse_envelope(raw: bytes | str) -> dict[str, Any]:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > MAX_LIST_BYTES:
        raise malformed(f"the trust list is larger than {MAX_LIST_BYTES} bytes", field="body")
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise malformed("the trust list envelope is not JSON", field="body") from None
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "signature", "key_id"}:
        raise malformed(
            "the envelope must be an object with exactly payload, signature and key_id",
            field="body",
        )
    if not all(isinstance(v, str) for v in envelope.values()):
        raise malformed("payload, signature and key_id must be strings", field="body")
    return envelope


def verified_payload(peer: Peer, envelope: dict[str, Any]) -> bytes:
    """The payload bytes, once the peer's own key verifies the signature over them."""
    if envelope["key_id"] != peer.key_id:
        raise malformed(
            f"the list is signed with key {envelope['key_id'][:80]!r}, not peer "
            f"{peer.name!r}'s key {peer.key_id}",
            field="key_id",
        )
    try:
        payload = from_b64url(envelope["payload"], "payload")
        signature = from_b64url(envelope["signature"], "signature")
        verify(load_public_key(peer.public_key), payload, signature)
    except PkiError as exc:
        raise malformed(f"the trust list is refused: {exc.detail}", field="signature") from None
    return payload


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise malformed(f"{what} must be an RFC 3339 time", field=what)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise malformed(f"{what}: {value[:40]!r} is not an RFC 3339 time", field=what) from None
    if when.tzinfo is None:
        raise malformed(f"{what} must carry a time zone", field=what)
    return when


def _need(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise malformed(f"{where}: {key} is missing or of the wrong type", field="entries")
    return value


@dataclass
class Parsed:
    directory: str
    issued_at: datetime
    valid_until: datetime
    entries: list[dict[str, Any]]  # normalised


def parse_payload(payload: bytes, now: datetime) -> Parsed:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise malformed("the signed payload is not JSON", field="payload") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise malformed(f"the payload's format is not {FORMAT}", field="format")
    issuer = data.get("directory")
    if not isinstance(issuer, str) or not issuer or len(issuer) > 63:
        raise malformed("the payload names no issuing directory", field="directory")
    issued = _time(data.get("issued_at"), "issued_at")
    until = _time(data.get("valid_until"), "valid_until")
    if issued > now + SKEW:
        raise malformed(f"the list is issued in the future ({stamp(issued)})", field="issued_at")
    if until <= now:
        raise malformed(f"the list expired at {stamp(until)}", field="valid_until")
    if until <= issued:
        raise malformed("the list's valid_until is not after its issued_at", field="valid_until")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise malformed("the payload has no entries list", field="entries")
    if len(entries) > MAX_DOMAINS:
        raise malformed(f"the list has more than {MAX_DOMAINS} domains", field="entries")
    out: list[dict[str, Any]] = []
    seen_domains: set[str] = set()
    seen_addresses: set[str] = set()
    for index, raw in enumerate(entries):
        entry = _entry(raw, f"entries[{index}]")
        if entry["domain"] in seen_domains:
            raise malformed(f"entries[{index}]: {entry['domain']} is listed twice", field="entries")
        seen_domains.add(entry["domain"])
        for mailbox in entry["mailboxes"]:
            if mailbox["address"] in seen_addresses:
                raise malformed(f"{mailbox['address']} is listed twice", field="entries")
            seen_addresses.add(mailbox["address"])
        if len(seen_addresses) > MAX_MAILBOXES:
            raise malformed(f"the list has more than {MAX_MAILBOXES} mailboxes", field="entries")
        out.append(entry)
    return Parsed(issuer, issued, until, out)


def _entry(raw: Any, where: str) -> dict[str, Any]:
    """One domain's entry, normalised; DirectoryError(malformed) naming where it is wrong."""
    if not isinstance(raw, dict):
        raise malformed(f"{where} is not an object", field="entries")
    try:
        domain = normalise_domain(_need(raw, "domain", str, where))
    except DirectoryError as exc:
        raise malformed(f"{where}: {exc.detail}", field="entries") from None
    where = f"{where} ({domain})"
    org = _need(raw, "organisation", dict, where)
    org_id = _need(org, "id", str, where)
    org_name = _need(org, "name", str, where)
    sector = _need(org, "sector", str, where)
    if not org_id or len(org_id) > 100 or not org_name or len(org_name) > 300 or len(sector) > 40:
        raise malformed(f"{where}: organisation id, name or sector is empty or too long")
    label = _need(raw, "trust_level", str, where)
    try:
        trust = TrustLevel.from_label(label)
    except ValueError:
        raise malformed(f"{where}: unknown trust_level {label[:40]!r}", field="entries") from None
    ceiling = raw.get("ceiling")
    if ceiling is not None and (not isinstance(ceiling, str) or len(ceiling) > 100):
        raise malformed(f"{where}: ceiling must be a classification name or null")
    wide = _need(raw, "domain_wide", bool, where)
    separator = raw.get("subaddress_separator")  # absent in lists from before it was carried
    if separator not in (None, "+", "-"):
        raise malformed(f"{where}: subaddress_separator must be '+', '-' or null", field="entries")
    exclusions = _need(raw, "exclusions", list, where)
    if len(exclusions) > MAX_EXCLUSIONS:
        raise malformed(f"{where}: more than {MAX_EXCLUSIONS} exclusions", field="entries")
    locals_ = []
    for item in exclusions:
        if not isinstance(item, str):
            raise malformed(f"{where}: an exclusion is not a local part", field="entries")
        locals_.append(_address(f"{item}@{domain}", where).local)
    mailboxes = []
    for item in _need(raw, "mailboxes", list, where):
        if not isinstance(item, dict):
            raise malformed(f"{where}: a mailbox is not an object", field="entries")
        address = _address(_need(item, "address", str, where), where)
        if address.domain != domain:
            raise malformed(f"{where}: {address.text} is not an address of {domain}")
        role = _need(item, "role", str, where)
        if role not in ROLES:
            raise malformed(f"{where}: {address.text} has an unknown role {role[:20]!r}")
        verified = _need(item, "mailbox_verified", bool, where)
        mailboxes.append({"address": address.text, "role": role, "mailbox_verified": verified})
    return {
        "domain": domain,
        "organisation_id": org_id,
        "organisation_name": org_name,
        "sector": sector,
        "trust_level": trust,
        "ceiling": ceiling,
        "posture": _posture(raw.get("posture"), where),
        "domain_wide": wide,
        "exclusions": sorted(set(locals_)),
        "subaddress_separator": separator,
        "mailboxes": mailboxes,
    }


def _address(text: str, where: str) -> Any:
    try:
        return normalise(text)
    except DirectoryError as exc:
        raise malformed(f"{where}: {exc.detail}", field="entries") from None


def _posture(raw: Any, where: str) -> dict[str, Any] | None:
    """The peer's posture as this store keeps postures (rows.posture_to_json's shape)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise malformed(f"{where}: posture must be an object or null", field="entries")
    transport = _need(raw, "transport", dict, where)
    checked = _time(raw.get("checked_at"), f"{where}: posture.checked_at")
    dmarc = raw.get("dmarc")
    if dmarc is not None and dmarc not in {d.label for d in DmarcPolicy}:
        raise malformed(f"{where}: unknown DMARC policy {str(dmarc)[:20]!r}", field="entries")
    mta_sts = transport.get("mta_sts")
    if mta_sts not in MTA_STS:
        raise malformed(f"{where}: unknown MTA-STS mode {str(mta_sts)[:20]!r}", field="entries")
    return {
        "checked_at": checked.isoformat(),
        "mx": _need(transport, "mx", bool, where),
        "tls": _need(transport, "tls", bool, where),
        "mta_sts": mta_sts,
        "dane": _need(transport, "dane", bool, where),
        "dmarc": dmarc,
        "source": "federated",
        "evidence": None,
    }


def import_list(
    federation: FederationStore,
    policy: Policy,
    peer: Peer,
    raw: bytes | str,
    actor: str,
    now: datetime,
    max_valid: timedelta = timedelta(days=7),
) -> ImportReport:
    # 1. envelope and signature
    if peer.status is not PeerStatus.ACTIVE:
        raise conflict(f"peer {peer.name!r} is suspended: resume it before importing")
    payload = verified_payload(peer, parse_envelope(raw))
    # 2.-3. the payload, every entry normalised
    parsed = parse_payload(payload, now)
    # however long the peer says its list holds, this directory trusts it for at most max_valid
    parsed.valid_until = min(parsed.valid_until, now + max_valid)
    report = ImportReport(
        peer.name, parsed.directory, parsed.issued_at, parsed.valid_until, digest(payload)
    )
    # 4. what the local register or another peer holds is skipped
    names = [e["domain"] for e in parsed.entries]
    local = federation.local_domains(names)
    owners = federation.owners(names)
    domains: list[dict[str, Any]] = []
    mailboxes: list[dict[str, Any]] = []
    for entry in parsed.entries:
        name = entry["domain"]
        skip = _skip(entry, name, local, owners, peer, policy)
        if skip is not None:
            report.skipped.append(skip)
            continue
        domain_id = _domain_id(peer, name)
        domains.append(
            {
                "id": domain_id,
                "domain": name,
                "organisation_id": entry["organisation_id"],
                "organisation_name": entry["organisation_name"],
                "sector": entry["sector"],
                "trust_level": entry["trust_level"].label,
                "ceiling": entry["ceiling"],
                "posture": entry["posture"],
                "domain_wide": int(entry["domain_wide"]),
                "exclusions": entry["exclusions"],
                "subaddress_separator": entry["subaddress_separator"],
            }
        )
        for mailbox in entry["mailboxes"]:
            mailboxes.append(
                {
                    "domain_id": domain_id,
                    "address": mailbox["address"],
                    "role": mailbox["role"],
                    "mailbox_verified": int(mailbox["mailbox_verified"]),
                }
            )
    report.domains, report.mailboxes = len(domains), len(mailboxes)
    # 5. one transaction (which re-checks the replay rule against the stored issued_at)
    facts = {
        "list_issued_at": parsed.issued_at,
        "list_valid_until": parsed.valid_until,
        "list_digest": report.digest,
    }
    federation.replace_entries(actor, now, peer, domains, mailboxes, facts, report.as_dict())
    return report


def _skip(
    entry: dict[str, Any],
    name: str,
    local: set[str],
    owners: dict[str, str],
    peer: Peer,
    policy: Policy,
) -> dict[str, str] | None:
    if name in local:
        return {"domain": name, "reason": "local-domain"}
    if not permits(peer.permitted, name):
        return {"domain": name, "reason": OUTSIDE}
    owner = owners.get(name)
    if owner is not None and owner != peer.name:
        return {"domain": name, "reason": "listed-by-another-peer", "peer": owner}
    if entry["trust_level"] is TrustLevel.NONE:
        return {"domain": name, "reason": "not-trusted"}
    if entry["sector"] not in SECTORS:
        return {"domain": name, "reason": "sector-unknown"}
    if entry["ceiling"] is not None and policy.scheme.find(entry["ceiling"]) is None:
        return {"domain": name, "reason": "ceiling-unknown"}
    return None


def _domain_id(peer: Peer, name: str) -> str:
    """A stable id per (peer, domain): answers cached under it stay meaningful."""
    return str(uuid.uuid5(uuid.UUID(peer.id), name))
