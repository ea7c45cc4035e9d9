"""`clearance demo`: a small, realistic, fictional directory (Hardy's Wessex) for trying Clearance.

Idempotent: an organisation that already exists (by name) is left as it is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from directory import certificates as certs
from directory.authz import Principal
from directory.model import Organisation
from directory.passphrase import ensure_passphrase_file
from directory.service import Directory

OPERATOR = Principal("cli:demo", frozenset({"directory-admin"}))


@dataclass
class DemoOrg:
    name: str
    sector: str
    identifiers: dict[str, str]
    domain: str
    status: str = "active"
    vetted: bool = True
    accreditation: tuple[str, int] | None = ("psn-compliance", 365)  # scheme, days left
    posture: dict[str, object] = field(
        default_factory=lambda: {"mta_sts": "enforce", "dmarc": "reject", "tls": True}
    )
    domain_wide: bool = False
    exclusions: list[str] = field(default_factory=list)
    mailboxes: list[tuple[str, str, str, bool]] = field(
        default_factory=list
    )  # local, name, role, verified


ORGS = [
    DemoOrg(
        "Wessex County Council",
        "local-government",
        {"gss": "E10000099"},
        "wessex.gov.uk",
        domain_wide=True,
        exclusions=["noreply"],
        mailboxes=[
            ("j.smith", "Jo Smith", "person", True),
            ("children.services", "Children's Services", "shared", True),
        ],
    ),
    DemoOrg(
        "Casterbridge City Council",
        "local-government",
        {"gss": "E07000999"},
        "casterbridge.gov.uk",
        accreditation=("cyber-essentials-plus", 200),
        posture={"dane": True, "dmarc": "reject", "tls": True},
        mailboxes=[
            ("a.jones", "Alex Jones", "person", True),
            ("alerts", "Alerts robot", "system", False),
        ],
    ),
    DemoOrg(
        "Casterbridge and Wessex Hospitals NHS Foundation Trust",
        "health",
        {"ods": "RZZ"},
        "cwh.nhs.uk",
        accreditation=("dspt-standards-met", 300),
        posture={"mta_sts": "enforce", "dmarc": "quarantine", "tls": True},
        domain_wide=True,
        mailboxes=[("safeguarding", "Safeguarding team", "shared", True)],
    ),
    DemoOrg(
        "Wessex Police",
        "police",
        {"police-force": "99"},
        "wessex.police.uk",
        posture={"dane": True, "mta_sts": "enforce", "dmarc": "reject", "tls": True},
        mailboxes=[
            ("public.protection", "Public Protection Unit", "shared", True),
            ("d.morgan", "Dana Morgan", "person", True),
        ],
    ),
    DemoOrg(
        "Department for Community Safety",
        "central-government",
        {"govuk-org": "D999"},
        "dcs.gov.uk",
        accreditation=("iso-27001", 500),
        posture={"mta_sts": "testing", "dmarc": "reject", "tls": True},
        domain_wide=True,
    ),
    DemoOrg(
        "Casterbridge Young Carers",
        "third-sector",
        {"charity": "1199999"},
        "casterbridgeyoungcarers.org.uk",
        vetted=False,
        accreditation=None,
        mailboxes=[("support", "Support workers", "shared", True)],
    ),
    DemoOrg(
        "Budmouth Borough Council",
        "local-government",
        {"gss": "E07000998"},
        "budmouth.gov.uk",
        accreditation=("psn-compliance", -60),
        domain_wide=True,
    ),
    DemoOrg(
        "Anglebury Case Systems Ltd",
        "private-supplier",
        {"companies-house": "09999999"},
        "anglebury-cases.co.uk",
        status="suspended",
        domain_wide=True,
    ),
    DemoOrg(
        "Melchester Food Bank",
        "third-sector",
        {"charity": "1188888"},
        "melchesterfoodbank.org.uk",
        status="applied",
        vetted=False,
        accreditation=None,
        domain_wide=True,
    ),
]

SPONSOR, SPONSORED = "Casterbridge City Council", "Casterbridge Young Carers"

TRY = [
    ("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE", "accredited council, mailbox entry"),
    ("anyone@wessex.gov.uk", "OFFICIAL-SENSITIVE", "domain-wide entry"),
    ("noreply@wessex.gov.uk", None, "excluded from the domain-wide entry"),
    ("alerts@casterbridge.gov.uk", "OFFICIAL-SENSITIVE", "system mailbox: OFFICIAL only"),
    ("support@casterbridgeyoungcarers.org.uk", "OFFICIAL", "charity sponsored by the city council"),
    ("someone@dcs.gov.uk", "OFFICIAL-SENSITIVE", "MTA-STS only in testing"),
    ("finance@budmouth.gov.uk", "OFFICIAL-SENSITIVE", "accreditation expired"),
    ("ops@anglebury-cases.co.uk", "OFFICIAL", "suspended supplier"),
    ("nobody@example.org", "OFFICIAL", "unknown"),
]


def seed(directory: Directory) -> list[str]:
    """Create what is missing; return a line per organisation created."""
    reg = directory.registration
    now = directory.clock()
    existing = {o.name: o for o in directory.store.organisations()}
    made: list[str] = []
    orgs: dict[str, Organisation] = dict(existing)
    for spec in ORGS:
        if spec.name in existing:
            continue
        org = reg.create_organisation(OPERATOR, spec.name, spec.sector, spec.identifiers)
        domain = reg.claim_domain(OPERATOR, org.id, spec.domain)
        if spec.status != "applied":
            reg.set_status(OPERATOR, org.id, "active", "demo: application approved")
            reg.record_domain_verification(OPERATOR, domain.id, "demo: DNS challenge seen by hand")
            reg.record_posture(
                OPERATOR,
                domain.id,
                evidence="demo: recorded by hand",
                **spec.posture,  # type: ignore[arg-type]
            )
        if spec.vetted:
            register = next(iter(spec.identifiers))
            reg.vet_organisation(OPERATOR, org.id, f"demo: checked against the {register} register")
        if spec.accreditation:
            scheme, days = spec.accreditation
            start = now - timedelta(days=365)
            expires = now + timedelta(days=days)
            reg.add_accreditation(
                OPERATOR, org.id, scheme, f"demo certificate {scheme}", start, expires
            )
        if spec.domain_wide:
            reg.add_recipient(OPERATOR, org.id, domain=spec.domain, exclusions=spec.exclusions)
        for local, name, role, verified in spec.mailboxes:
            reg.add_recipient(
                OPERATOR,
                org.id,
                address=f"{local}@{spec.domain}",
                role=role,
                display_name=name,
                given_name=name.split()[0] if role == "person" else None,
                surname=name.split()[-1] if role == "person" else None,
                mailbox_verified=verified,
            )
        if spec.status == "suspended":
            reg.set_status(OPERATOR, org.id, "suspended", "demo: supplier contract under review")
        orgs[spec.name] = directory.registration.organisation(OPERATOR, org.id)
        made.append(f"{spec.name} ({spec.domain})")
    if SPONSORED not in existing:
        reg.add_sponsorship(
            OPERATOR,
            orgs[SPONSOR].id,
            orgs[SPONSORED].id,
            "young carers' safeguarding referrals",
            "OFFICIAL-SENSITIVE",
            now - timedelta(days=1),
            now + timedelta(days=365),
        )
    return made


def demo_api_key(directory: Directory) -> str:
    """Revoke earlier demo lookup keys, make a new one, return it (shown once)."""
    for key in directory.store.api_keys():
        if key.name == "demo lookup" and key.revoked_at is None:
            directory.registration.revoke_api_key(OPERATOR, key.id)
    _, secret = directory.registration.create_api_key(OPERATOR, "demo lookup", ["lookup"])
    return secret


def demo_certificate(directory: Directory) -> str | None:
    """Set up the demo CA if needed and give j.smith@wessex.gov.uk a certificate (PKCS#12 with
    a random passphrase, both under <home>); return the serial, or None if one exists."""
    home = directory.settings.home
    if not certs.ca_exists(directory.settings):
        ensure_passphrase_file(directory.settings)
        certs.initialise_ca(directory.settings, directory.clock)
    address = "j.smith@wessex.gov.uk"
    answer = directory.lookup.lookup(address)
    if answer["certificates"]:
        return None
    passphrase = secrets.token_urlsafe(18)
    issued = directory.certificates.issue(OPERATOR, address, pkcs12_passphrase=passphrase.encode())
    assert issued.pkcs12 is not None
    bundle = home / "demo-j.smith.p12"
    bundle.touch(mode=0o600)
    bundle.write_bytes(issued.pkcs12)
    secret_path = home / "demo-j.smith.p12.passphrase"
    secret_path.touch(mode=0o600)
    secret_path.write_text(passphrase + "\n")
    return issued.serial_hex
