"""A large, realistic register for benchmarks, written fast with bulk inserts (SQLAlchemy Core).

Not through `Registration`: one audited transaction per recipient would take hours at a million.
The rows are the same rows registration writes (same tables, same columns, the same JSON shapes),
so lookups cannot tell the difference; the audit log is simply empty.

The mix: a few thousand organisations (most active, vetted and accredited; some only vetted,
some applied, some suspended), one or two verified domains each with a recent posture, a
domain-wide entry (with exclusions) on one domain in eight, mailbox entries spread over the
domains (persons, shared and system mailboxes, most mailbox-verified), a certificate on one
mailbox in fifty, and a sponsored charity or two.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from directory import apikeys
from directory.service import Directory
from directory.settings import Settings
from directory.store import tables as t

SECTORS = (
    "local-government",
    "health",
    "police",
    "central-government",
    "education",
    "justice",
    "third-sector",
    "private-supplier",
)
CHUNK = 10_000
HOT = 5_000  # distinct addresses in the warm workload (Population.hot)


@dataclass
class Population:
    """What was written, and samples of addresses to look up."""

    entries: int
    organisations: int
    domains: int
    mailboxes: list[str] = field(default_factory=list)  # a sample of mailbox-entry addresses
    domain_wide: list[str] = field(default_factory=list)  # covered by a domain-wide entry only
    unknown: list[str] = field(default_factory=list)  # no entry, or an unknown domain
    api_key: str = ""

    def mix(self, count: int, seed: int = 7) -> list[str]:
        """Addresses to look up: 75% mailbox entries, 15% domain-wide, 10% unknown."""
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            roll = rng.random()
            pool = (
                self.mailboxes if roll < 0.75 else self.domain_wide if roll < 0.90 else self.unknown
            )
            out.append(rng.choice(pool))
        return out

    def hot(self, count: int, distinct: int = HOT, seed: int = 7) -> list[str]:
        """`count` draws from a hot set of `distinct` addresses of the mix: the warm workload.
        The same number of distinct addresses at every size, so that a larger register does
        not also mean a larger working set for the answer cache."""
        rng = random.Random(seed)
        pool = list(dict.fromkeys(self.mix(distinct * 3, seed=seed)))[:distinct]
        return [rng.choice(pool) for _ in range(count)]


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _certificate_der() -> bytes:
    """One real self-signed certificate; its DER is reused for every benchmark certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "benchmark")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def populate(settings: Settings, entries: int, *, organisations: int = 2000) -> Population:
    """Create the schema and write `entries` recipient entries; return samples and an API key."""
    directory = Directory(settings)
    try:
        directory.initialise()
        return _write(directory.store.engine, entries, organisations)
    finally:
        directory.close()


def _write(engine: Engine, entries: int, org_count: int) -> Population:
    rng = random.Random(20261126)
    now = datetime.now(UTC)
    seq = 1
    created = {"created_at": now, "change_seq": seq}
    orgs: list[dict[str, Any]] = []
    domains: list[dict[str, Any]] = []
    accreditations: list[dict[str, Any]] = []
    posture = {
        "checked_at": (now - timedelta(days=1)).isoformat(),
        "mx": True,
        "tls": True,
        "mta_sts": "enforce",
        "dane": False,
        "dmarc": "reject",
        "source": "manual",
        "evidence": "benchmark",
    }
    for i in range(org_count):
        roll = rng.random()
        status = "suspended" if roll < 0.03 else "applied" if roll < 0.05 else "active"
        sector = SECTORS[i % len(SECTORS)]
        org_id = _id(rng)
        orgs.append(
            {
                "id": org_id,
                "name": f"Benchmark organisation {i}",
                "sector": sector,
                "status": status,
                "identifiers": {"gss": f"E{i:08d}"},
                "vetted_at": now - timedelta(days=30) if status != "applied" else None,
                "vetting_evidence": "benchmark" if status != "applied" else None,
                "review_required": None,
                **created,
            }
        )
        if rng.random() < 0.8:
            accreditations.append(
                {
                    "id": _id(rng),
                    "organisation_id": org_id,
                    "scheme": "psn-compliance",
                    "evidence": "benchmark",
                    "valid_from": now - timedelta(days=100),
                    "expires": now + timedelta(days=265),
                    "status": "active",
                    **created,
                }
            )
        for d in range(2 if rng.random() < 0.25 else 1):
            domains.append(
                {
                    "id": _id(rng),
                    "organisation_id": org_id,
                    "name": f"org{i}-{d}.bench.gov.uk",
                    "status": "active",
                    "verified_at": now - timedelta(days=5) if status != "applied" else None,
                    "verification_method": "dns" if status != "applied" else None,
                    "verification_evidence": "benchmark" if status != "applied" else None,
                    "posture": posture if status != "applied" else None,
                    "subaddress_separator": "+" if d == 0 else None,
                    "challenge_token": None,
                    "challenge_expires": None,
                    **created,
                }
            )
    pop = Population(entries, len(orgs), len(domains))
    recipient_base = {
        "given_name": None,
        "surname": None,
        "status": "active",
        **created,
    }
    wide_domains = [d for i, d in enumerate(domains) if i % 8 == 3]
    wide_rows = [
        {
            **recipient_base,
            "id": _id(rng),
            "organisation_id": d["organisation_id"],
            "domain_id": d["id"],
            "kind": "domain",
            "address": None,
            "display_name": None,
            "role": "person",
            "mailbox_verified_at": None,
            "exclusions": ["noreply", "donotreply"],
        }
        for d in wide_domains[:entries]
    ]
    sponsored = [o for o in orgs if o["sector"] == "third-sector" and o["status"] == "active"][:2]
    sponsor = next(o for o in orgs if o["sector"] == "local-government" and o["status"] == "active")
    sponsorships = [
        {
            "id": _id(rng),
            "sponsor_id": sponsor["id"],
            "sponsored_id": o["id"],
            "purpose": "benchmark",
            "ceiling": "OFFICIAL",
            "valid_from": now - timedelta(days=1),
            "expires": now + timedelta(days=365),
            "status": "active",
            **created,
        }
        for o in sponsored
    ]
    der = _certificate_der()
    secret = apikeys.new_secret()
    with engine.begin() as conn:
        conn.execute(t.organisations.insert(), orgs)
        conn.execute(t.domains.insert(), domains)
        conn.execute(t.accreditations.insert(), accreditations)
        if sponsorships:
            conn.execute(t.sponsorships.insert(), sponsorships)
        if wide_rows:
            conn.execute(t.recipients.insert(), wide_rows)
        conn.execute(
            t.api_keys.insert(),
            [
                {
                    "id": _id(rng),
                    "name": "benchmark",
                    "key_hash": apikeys.key_hash(secret),
                    "scopes": ["lookup"],
                    "created_at": now,
                    "created_by": "bench",
                    "revoked_at": None,
                }
            ],
        )
    pop.api_key = secret
    mailbox_count = entries - len(wide_rows)
    roles = ("person",) * 8 + ("shared", "system")
    sample_every = max(1, mailbox_count // 20_000)
    written = 0
    while written < mailbox_count:
        batch: list[dict[str, Any]] = []
        certs: list[dict[str, Any]] = []
        for n in range(written, min(mailbox_count, written + CHUNK)):
            domain = domains[n % len(domains)]
            address = f"user{n}@{domain['name']}"
            rid = _id(rng)
            batch.append(
                {
                    **recipient_base,
                    "id": rid,
                    "organisation_id": domain["organisation_id"],
                    "domain_id": domain["id"],
                    "kind": "mailbox",
                    "address": address,
                    "display_name": f"User {n}",
                    "role": roles[n % len(roles)],
                    "mailbox_verified_at": now if n % 5 else None,
                    "exclusions": [],
                }
            )
            if n % 50 == 7:
                certs.append(
                    {
                        "serial": f"{rng.getrandbits(120):030x}",
                        "recipient_id": rid,
                        "email": address,
                        "not_before": now - timedelta(days=1),
                        "not_after": now + timedelta(days=365),
                        "der": der,
                        "revoked_at": None,
                        "revocation_reason": None,
                        **created,
                    }
                )
            if n % sample_every == 0 and len(pop.mailboxes) < 20_000:
                pop.mailboxes.append(address.upper() if n % 10 == 1 else address)
        with engine.begin() as conn:
            conn.execute(t.recipients.insert(), batch)
            if certs:
                conn.execute(t.certificates.insert(), certs)
        written += len(batch)
    for i, wide in enumerate(wide_domains[:entries]):
        pop.domain_wide.append(f"staff{i}@{wide['name']}")
        if i % 10 == 0:
            pop.domain_wide.append(f"staff{i}+tag@{wide['name']}")
        if i % 20 == 0:
            pop.domain_wide.append(f"noreply@{wide['name']}")  # excluded
    narrow = [d for i, d in enumerate(domains) if i % 8 != 3]
    for i in range(2000):
        if i % 2:
            pop.unknown.append(f"nobody{i}@{narrow[i % len(narrow)]['name']}")
        else:
            pop.unknown.append(f"someone{i}@unknown{i}.example.org")
    with engine.begin() as conn:
        conn.execute(update(t.directory_state).values(seq=seq, register_seq=seq))
    with engine.connect() as conn:  # planner statistics, as autovacuum would gather in time
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return pop
