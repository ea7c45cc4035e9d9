"""Policy: per classification, what a recipient must have. A versioned TOML file in config/.

Loaded once into immutable objects and refused at start, naming file, key and problem, when wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from directory.classification import Level, Scheme, load_scheme
from directory.configfile import ConfigError, Fields, read_toml
from directory.model import DmarcPolicy, RecipientRole, Sector, Transport, TrustLevel

TRUST_LABELS = tuple(level.label for level in TrustLevel)
TRANSPORTS = tuple(t.value for t in Transport)
DMARC_LABELS = tuple(d.label for d in DmarcPolicy)
ROLE_LABELS = (*(r.value for r in RecipientRole), "domain")


@dataclass(frozen=True, slots=True)
class Requirement:
    level: Level
    permitted: bool
    min_trust: TrustLevel
    transport: Transport
    dmarc: DmarcPolicy
    mailbox_verified: bool
    certificate: bool
    sectors: frozenset[Sector]  # empty: every sector
    roles: frozenset[str]  # empty: every role; "domain" names domain-wide entries


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    digest: str  # "sha256:<hex>" of the policy file's bytes
    scheme: Scheme
    requirements: tuple[Requirement, ...]  # one per scheme level, lowest first
    accreditation_schemes: frozenset[str]
    answer_valid_seconds: int
    domain_verification_max_age_days: int
    posture_max_age_days: int

    def requirement(self, level: Level) -> Requirement:
        return self.requirements[level.rank]


def load_policy(path: Path, schemes_dir: Path) -> Policy:
    data, raw = read_toml(path)
    top = Fields(path, "", data)
    name = top.string("name", required=True)
    version = top.string("version", required=True)
    scheme_name = top.string("scheme", required=True)
    scheme_path = schemes_dir / f"{scheme_name}.toml"
    if not scheme_path.is_file():
        raise top.error("scheme", f"names {scheme_name!r} but {scheme_path} does not exist")
    scheme = load_scheme(scheme_path)
    accreditation = frozenset(top.strings("accreditation_schemes"))
    answer_valid = top.integer("answer_valid_seconds", 3600, minimum=1, maximum=86400 * 7)
    verification_age = top.integer("domain_verification_max_age_days", 35, minimum=1, maximum=400)
    posture_age = top.integer("posture_max_age_days", 8, minimum=1, maximum=400)
    tables = top.table_of("classifications")
    top.refuse_unknown()
    for key in tables:
        if scheme.find(key) is None or scheme.find(key) != _exact(scheme, key):
            raise ConfigError(path, f"classifications.{key}", f"is not a level of {scheme_name}")
    requirements = []
    for level in scheme.levels:
        if level.name not in tables:
            raise ConfigError(path, f"classifications.{level.name}", "is missing")
        requirements.append(_requirement(path, level, tables[level.name]))
    _check_monotonic(path, requirements)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return Policy(
        name=name,
        version=version,
        digest=digest,
        scheme=scheme,
        requirements=tuple(requirements),
        accreditation_schemes=accreditation,
        answer_valid_seconds=answer_valid,
        domain_verification_max_age_days=verification_age,
        posture_max_age_days=posture_age,
    )


def _exact(scheme: Scheme, key: str) -> Level | None:
    for level in scheme.levels:
        if level.name == key:
            return level
    return None


def _requirement(path: Path, level: Level, table: object) -> Requirement:
    f = Fields(path, f"classifications.{level.name}", table)
    permitted = f.boolean("permitted", True)
    min_trust = TrustLevel.from_label(f.choice("min_trust", TRUST_LABELS, "accredited"))
    transport = Transport(f.choice("transport", TRANSPORTS, "none"))
    dmarc = DmarcPolicy.from_label(f.choice("dmarc", DMARC_LABELS, "none"))
    mailbox_verified = f.boolean("mailbox_verified", False)
    certificate = f.boolean("certificate", False)
    sectors = f.strings("sectors")
    for sector in sectors:
        if sector not in {s.value for s in Sector}:
            raise f.error("sectors", f"{sector!r} is not a sector")
    roles = f.strings("roles")
    for role in roles:
        if role not in ROLE_LABELS:
            raise f.error("roles", f"{role!r} is not one of {', '.join(ROLE_LABELS)}")
    f.refuse_unknown()
    return Requirement(
        level=level,
        permitted=permitted,
        min_trust=min_trust,
        transport=transport,
        dmarc=dmarc,
        mailbox_verified=mailbox_verified,
        certificate=certificate,
        sectors=frozenset(Sector(s) for s in sectors),
        roles=frozenset(roles),
    )


def _check_monotonic(path: Path, requirements: list[Requirement]) -> None:
    """A higher classification may not be easier to reach than a lower one."""
    for lower, higher in pairwise(requirements):
        key = f"classifications.{higher.level.name}"
        if lower.permitted is False and higher.permitted:
            raise ConfigError(path, key, f"is permitted although {lower.level.name} is not")
        if higher.permitted and higher.min_trust < lower.min_trust:
            raise ConfigError(path, f"{key}.min_trust", f"is below that of {lower.level.name}")
