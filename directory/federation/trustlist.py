"""Signed trust lists: what this directory asserts about its own verified recipients.

Only domains whose derived trust (directory.trust, at issue time) is above `none` are listed:
no pending application, suspended organisation or unverified domain ever leaves the directory.
The payload is canonical JSON (sorted keys, no spaces, UTF-8); the envelope carries it as
base64url with a detached Ed25519 signature over exactly those bytes and the signer's key id.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from directory.model import Posture, TrustLevel
from directory.policy import Policy
from directory.snapshot import Snapshot
from directory.store.federation import FederationStore
from directory.store.store import DirectoryStore
from directory.trust import domain_trust
from pki.signing import SigningKey, b64url, key_id, sign

FORMAT = "clearance-trust-list/1"


def stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(payload: bytes) -> str:
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def posture_entry(posture: Posture | None) -> dict[str, Any] | None:
    if posture is None:
        return None
    return {
        "transport": {
            "mx": posture.mx,
            "tls": posture.tls,
            "mta_sts": posture.mta_sts,
            "dane": posture.dane,
        },
        "dmarc": posture.dmarc.label if posture.dmarc is not None else None,
        "checked_at": stamp(posture.checked_at),
    }


def build_payload(
    store: DirectoryStore,
    snapshot: Snapshot,
    policy: Policy,
    name: str,
    now: datetime,
    valid_seconds: int,
) -> dict[str, Any]:
    """The trust list as issued now (not yet signed)."""
    listed = []
    for domain in sorted(snapshot.domains.values(), key=lambda d: d.name):
        org = snapshot.organisations.get(domain.organisation_id)
        if org is None:
            continue
        trust = domain_trust(snapshot.trust(org, now), domain, policy, now)
        if trust.level <= TrustLevel.NONE:
            continue
        listed.append((domain, org, trust))
    mailboxes = FederationStore(store).local_mailboxes([d.id for d, _, _ in listed])
    entries = []
    for domain, org, trust in listed:
        wide = snapshot.domain_entries.get(domain.id)
        entries.append(
            {
                "domain": domain.name,
                "organisation": {"id": org.id, "name": org.name, "sector": org.sector.value},
                "trust_level": trust.level.label,
                "ceiling": trust.ceiling.name if trust.ceiling is not None else None,
                "posture": posture_entry(domain.posture),
                "domain_wide": wide is not None,
                "exclusions": sorted(wide.exclusions) if wide is not None else [],
                # the peer strips it and compares exclusions on the base local part, as we do
                "subaddress_separator": domain.subaddress_separator,
                "mailboxes": mailboxes.get(domain.id, []),
            }
        )
    return {
        "format": FORMAT,
        "directory": name,
        "issued_at": stamp(now),
        "valid_until": stamp(now + timedelta(seconds=valid_seconds)),
        "policy": {"name": policy.name, "digest": policy.digest},
        "entries": entries,
    }


def envelope(payload: dict[str, Any], key: SigningKey) -> dict[str, str]:
    body = canonical(payload)
    return {"payload": b64url(body), "signature": b64url(sign(key, body)), "key_id": key_id(key)}
