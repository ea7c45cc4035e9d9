"""Policy: per classification, what a recipient must have. A versioned TOML file in config/.

Loaded once into immutable objects and refused at start, naming file, key and problem, when wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from directory.classification import Level, Scheme, load_scheme
from directory.configfile import (
    ConfigError,
    ConfigModel,
    Flag,
    Table,
    Text,
    TextList,
    choice,
    load_model,
    one_of,
    read_toml,
    whole,
)
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


class _PolicyFile(ConfigModel):
    name: Text
    version: Text
    scheme: Text
    accreditation_schemes: TextList = ()
    answer_valid_seconds: Annotated[int, BeforeValidator(whole(1, 86400 * 7))] = 3600
    domain_verification_max_age_days: Annotated[int, BeforeValidator(whole(1, 400))] = 35
    posture_max_age_days: Annotated[int, BeforeValidator(whole(1, 400))] = 8
    classifications: Table


class _RequirementFile(ConfigModel):
    permitted: Flag = True
    min_trust: Annotated[str, BeforeValidator(one_of(TRUST_LABELS))] = "accredited"
    transport: Annotated[Transport, BeforeValidator(choice(Transport))] = Transport.NONE
    dmarc: Annotated[str, BeforeValidator(one_of(DMARC_LABELS))] = "none"
    mailbox_verified: Flag = False
    certificate: Flag = False
    sectors: TextList = ()
    roles: TextList = ()


def load_policy(path: Path, schemes_dir: Path) -> Policy:
    data, raw = read_toml(path)
    found = load_model(path, _PolicyFile, data)
    scheme_path = schemes_dir / f"{found.scheme}.toml"
    if not scheme_path.is_file():
        raise ConfigError(
            path, "scheme", f"names {found.scheme!r} but {scheme_path} does not exist"
        )
    scheme = load_scheme(scheme_path)
    tables = found.classifications
    for key in tables:
        if scheme.find(key) is None or scheme.find(key) != _exact(scheme, key):
            raise ConfigError(path, f"classifications.{key}", f"is not a level of {found.scheme}")
    requirements = []
    for level in scheme.levels:
        if level.name not in tables:
            raise ConfigError(path, f"classifications.{level.name}", "is missing")
        requirements.append(_requirement(path, level, tables[level.name]))
    _check_monotonic(path, requirements)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    return Policy(
        name=found.name,
        version=found.version,
        digest=digest,
        scheme=scheme,
        requirements=tuple(requirements),
        accreditation_schemes=frozenset(found.accreditation_schemes),
        answer_valid_seconds=found.answer_valid_seconds,
        domain_verification_max_age_days=found.domain_verification_max_age_days,
        posture_max_age_days=found.posture_max_age_days,
    )


def _exact(scheme: Scheme, key: str) -> Level | None:
    for level in scheme.levels:
        if level.name == key:
            return level
    return None


def _requirement(path: Path, level: Level, table: object) -> Requirement:
    key = f"classifications.{level.name}"
    found = load_model(path, _RequirementFile, table, key)
    for sector in found.sectors:
        if sector not in {s.value for s in Sector}:
            raise ConfigError(path, f"{key}.sectors", f"{sector!r} is not a sector")
    for role in found.roles:
        if role not in ROLE_LABELS:
            raise ConfigError(
                path, f"{key}.roles", f"{role!r} is not one of {', '.join(ROLE_LABELS)}"
            )
    return Requirement(
        level=level,
        permitted=found.permitted,
        min_trust=TrustLevel.from_label(found.min_trust),
        transport=found.transport,
        dmarc=DmarcPolicy.from_label(found.dmarc),
        mailbox_verified=found.mailbox_verified,
        certificate=found.certificate,
        sectors=frozenset(Sector(s) for s in found.sectors),
        roles=frozenset(found.roles),
    )


def _check_monotonic(path: Path, requirements: list[Requirement]) -> None:
    """A higher classification may not be easier to reach than a lower one."""
    for lower, higher in pairwise(requirements):
        key = f"classifications.{higher.level.name}"
        if lower.permitted is False and higher.permitted:
            raise ConfigError(path, key, f"is permitted although {lower.level.name} is not")
        if higher.permitted and higher.min_trust < lower.min_trust:
            raise ConfigError(path, f"{key}.min_trust", f"is below that of {lower.level.name}")
