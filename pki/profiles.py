"""Certificate profiles: configuration checked once into an immutable object.

The caller (CLI, settings) reads a TOML file from `config/profiles/` with `load_profile(path)` or
builds a `PkiProfile` directly; pki never reads configuration by itself. The extensions of each
certificate type are fixed in code by the S/MIME Baseline Requirements (strict generation); a
profile only chooses names, lifetimes, key types and the directory's own policy OIDs.

Policy OIDs: the directory's arc (see DEFAULT_POLICY_ARC; set your own in production) has one
child per trust level: `<arc>.1` domain-verified, `<arc>.2` organisation-verified,
`<arc>.3` accredited.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pki.errors import PkiError, PkiErrorKind
from pki.keys import CA_KEY_SPECS, EXISTING_CA_KEY_SPECS, KEY_SPECS, KeySpec, parse_key_spec
from pki.limits import (
    BR_MAX_VALIDITY_DAYS,
    MAX_CRL_VALIDITY_HOURS,
    MAX_OCSP_VALIDITY_HOURS,
    MAX_SUBSCRIBER_VALIDITY_DAYS,
    MIN_OCSP_VALIDITY_HOURS,
)

# A development default: 2.25.<uuid5(NAMESPACE_URL, "urn:clearance:pki:policy-arc").int
# & 0x7fffffff>. Not the full 128-bit UUID integer: pkilint decodes with pyasn1-fasder, which
# refuses large arcs ("OID contains arc which is larger than 32-bits", FATAL) and also arcs
# under 2.48+ (so the 2.999 example arc fails too); such a certificate could never pass the
# lint gate. A production directory sets its own arc, e.g. 1.3.6.1.4.1.<IANA PEN>.<n>.
DEFAULT_POLICY_ARC = "2.25.304185733"
MAX_TRUST_LEVEL_ARC = 127
DEFAULT_TRUST_LEVELS: Mapping[str, int] = MappingProxyType(
    {"domain-verified": 1, "organisation-verified": 2, "accredited": 3}
)

_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


def _empty_trust_levels() -> Mapping[str, int]:
    return DEFAULT_TRUST_LEVELS


@dataclass(frozen=True)
class PkiProfile:
    """Everything configurable about the CA hierarchy and the certificates it issues."""

    name: str = "clearance-default"
    # CA set-up
    ca_key: KeySpec = "ec-p384"
    organization: str = "Clearance"
    country: str = "GB"
    root_common_name: str = "Clearance Root CA R1"
    issuing_common_name: str = "Clearance S/MIME Issuing CA 1"
    root_validity_days: int = 7305
    issuing_validity_days: int = 1826
    ocsp_responder_validity_days: int = 90
    # subscriber certificates
    validity_days: int = 365
    allowed_keys: frozenset[KeySpec] = frozenset(KEY_SPECS)  # type: ignore[arg-type]
    generated_key: KeySpec = "rsa-3072"
    mailbox_subject_email: bool = True
    # the directory's own policy OIDs
    policy_arc: str = DEFAULT_POLICY_ARC
    trust_levels: Mapping[str, int] = field(default_factory=_empty_trust_levels)
    # revocation
    crl_validity_hours: int = 168
    ocsp_validity_hours: int = 24

    def __post_init__(self) -> None:
        _check_profile(self)
        object.__setattr__(self, "trust_levels", MappingProxyType(dict(self.trust_levels)))
        object.__setattr__(self, "allowed_keys", frozenset(self.allowed_keys))

    def trust_level_oid(self, level: str) -> str:
        """The policy OID of a trust level; an unknown level is `malformed`."""
        arc = self.trust_levels.get(level)
        if arc is None:
            known = ", ".join(self.trust_levels)
            raise PkiError(
                PkiErrorKind.MALFORMED, f"unknown trust level {level!r}; expected one of {known}"
            )
        return f"{self.policy_arc}.{arc}"

    def trust_level_oids(self) -> dict[str, str]:
        """All trust levels and their policy OIDs, lowest arc first."""
        ordered = sorted(self.trust_levels.items(), key=lambda item: item[1])
        return {name: f"{self.policy_arc}.{arc}" for name, arc in ordered}


def _check_profile(p: PkiProfile) -> None:
    def bad(key: str, problem: str) -> PkiError:
        return PkiError(PkiErrorKind.MALFORMED, f"profile {p.name!r}: {key}: {problem}")

    if p.ca_key not in EXISTING_CA_KEY_SPECS:  # a new CA refuses rsa-3072 (generate_ca_key)
        raise bad("ca.key", f"must be one of {', '.join(CA_KEY_SPECS)}")
    if not _COUNTRY_RE.match(p.country):
        raise bad("ca.country", "must be an ISO 3166 alpha-2 code in capitals")
    for key, value in (
        ("ca.organization", p.organization),
        ("ca.root_common_name", p.root_common_name),
        ("ca.issuing_common_name", p.issuing_common_name),
    ):
        if not value.strip() or len(value) > 64:
            raise bad(key, "must be 1-64 characters")
    if p.root_common_name == p.issuing_common_name:
        raise bad("ca.issuing_common_name", "must differ from the root's common name")
    if not 365 <= p.root_validity_days <= 9132:
        raise bad("ca.root_validity_days", "must be between 365 and 9132 (25 years)")
    if not 365 <= p.issuing_validity_days < p.root_validity_days:
        raise bad("ca.issuing_validity_days", "must be at least 365 and below the root's")
    if not 1 <= p.ocsp_responder_validity_days <= 365:
        raise bad("ca.ocsp_responder_validity_days", "must be between 1 and 365")
    if not 1 <= p.validity_days <= MAX_SUBSCRIBER_VALIDITY_DAYS:
        raise bad(
            "subscriber.validity_days",
            f"must be between 1 and {MAX_SUBSCRIBER_VALIDITY_DAYS} (S/MIME BR 6.3.2 allows "
            f"{BR_MAX_VALIDITY_DAYS}; pkilint warns at the maximum)",
        )
    if not p.allowed_keys:
        raise bad("subscriber.allowed_keys", "must not be empty")
    for spec in p.allowed_keys:
        if spec not in KEY_SPECS:
            raise bad("subscriber.allowed_keys", f"unknown key type {spec!r}")
    if p.generated_key not in KEY_SPECS or p.generated_key == "ed25519":
        raise bad("subscriber.generated_key", "must be an RSA or ECDSA key type")
    if not _OID_RE.match(p.policy_arc) or p.policy_arc.startswith("2.23.140"):
        raise bad("policy.arc", "must be a dotted OID outside the CA/Browser Forum arc")
    from pki.lint import oid_is_lintable  # pkilint: imported by what lints, not at start

    if not oid_is_lintable(f"{p.policy_arc}.{MAX_TRUST_LEVEL_ARC}"):
        raise bad(
            "policy.arc",
            "pkilint (pyasn1-fasder) cannot decode this OID, so no certificate could pass the "
            "lint gate: keep arcs small (no 2.25.<full uuid>, no 2.48 and above)",
        )
    if not p.trust_levels:
        raise bad("policy.trust_levels", "must not be empty")
    if len(set(p.trust_levels.values())) != len(p.trust_levels):
        raise bad("policy.trust_levels", "two trust levels share one arc number")
    for level, arc in p.trust_levels.items():
        if not re.match(r"^[a-z][a-z0-9-]*$", level):
            raise bad("policy.trust_levels", f"level name {level!r} must be lower-case words")
        if isinstance(arc, bool) or not isinstance(arc, int) or not 1 <= arc <= MAX_TRUST_LEVEL_ARC:
            raise bad(f"policy.trust_levels.{level}", f"must be 1-{MAX_TRUST_LEVEL_ARC}")
    if not 1 <= p.crl_validity_hours <= MAX_CRL_VALIDITY_HOURS:
        raise bad("revocation.crl_validity_hours", "must be between 1 and 240 (10 days)")
    if not MIN_OCSP_VALIDITY_HOURS <= p.ocsp_validity_hours <= MAX_OCSP_VALIDITY_HOURS:
        raise bad("revocation.ocsp_validity_hours", "must be between 8 and 240 (S/MIME BR 4.9.10)")


class _Section:
    """Reads one TOML table, type-checking each key and refusing unknown keys."""

    def __init__(self, source: str, name: str, table: object) -> None:
        self.source = source
        self.name = name
        if not isinstance(table, dict):
            raise self.error("", "must be a table")
        self.table: dict[str, Any] = dict(table)

    def error(self, key: str, problem: str) -> PkiError:
        where = f"[{self.name}] {key}" if self.name else key
        return PkiError(PkiErrorKind.MALFORMED, f"{self.source}: {where.strip()}: {problem}")

    def take(self, key: str, kind: type, default: Any) -> Any:
        if key not in self.table:
            return default
        value = self.table.pop(key)
        if kind is int and isinstance(value, bool):
            raise self.error(key, "must be an integer")
        if not isinstance(value, kind):
            raise self.error(key, f"must be a {kind.__name__}, not {type(value).__name__}")
        return value

    def finish(self) -> None:
        if self.table:
            raise self.error(", ".join(sorted(self.table)), "unknown key")


def load_profile(path: str | Path) -> PkiProfile:
    """Read and check a profile file; any problem is `malformed` naming file, key and problem."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise PkiError(PkiErrorKind.NOT_FOUND, f"{source}: no such profile file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PkiError(PkiErrorKind.MALFORMED, f"{source}: not valid TOML: {exc}") from None
    d = PkiProfile()
    top = _Section(source, "", data)
    name = top.take("name", str, d.name)
    ca = _Section(source, "ca", top.take("ca", dict, {}))
    sub = _Section(source, "subscriber", top.take("subscriber", dict, {}))
    pol = _Section(source, "policy", top.take("policy", dict, {}))
    rev = _Section(source, "revocation", top.take("revocation", dict, {}))
    top.finish()

    def spec(section: _Section, key: str, value: str) -> KeySpec:
        try:
            return parse_key_spec(value)
        except PkiError as exc:
            raise section.error(key, exc.detail) from None

    raw_allowed = sub.take("allowed_keys", list, sorted(d.allowed_keys))
    if not all(isinstance(item, str) for item in raw_allowed):
        raise sub.error("allowed_keys", "must be a list of key type names")
    levels = _Section(source, "policy.trust_levels", pol.take("trust_levels", dict, {}))
    trust_levels = {k: levels.take(k, int, 0) for k in list(levels.table)} or dict(d.trust_levels)
    fields: dict[str, Any] = {
        "name": name,
        "ca_key": spec(ca, "key", ca.take("key", str, d.ca_key)),
        "organization": ca.take("organization", str, d.organization),
        "country": ca.take("country", str, d.country),
        "root_common_name": ca.take("root_common_name", str, d.root_common_name),
        "issuing_common_name": ca.take("issuing_common_name", str, d.issuing_common_name),
        "root_validity_days": ca.take("root_validity_days", int, d.root_validity_days),
        "issuing_validity_days": ca.take("issuing_validity_days", int, d.issuing_validity_days),
        "ocsp_responder_validity_days": ca.take(
            "ocsp_responder_validity_days", int, d.ocsp_responder_validity_days
        ),
        "validity_days": sub.take("validity_days", int, d.validity_days),
        "allowed_keys": frozenset(spec(sub, "allowed_keys", k) for k in raw_allowed),
        "generated_key": spec(
            sub, "generated_key", sub.take("generated_key", str, d.generated_key)
        ),
        "mailbox_subject_email": sub.take("mailbox_subject_email", bool, d.mailbox_subject_email),
        "policy_arc": pol.take("arc", str, d.policy_arc),
        "trust_levels": trust_levels,
        "crl_validity_hours": rev.take("crl_validity_hours", int, d.crl_validity_hours),
        "ocsp_validity_hours": rev.take("ocsp_validity_hours", int, d.ocsp_validity_hours),
    }
    for section in (ca, sub, pol, rev):
        section.finish()
    try:
        return PkiProfile(**fields)
    except PkiError as exc:
        detail = exc.detail.replace(f"profile {name!r}: ", "")
        raise PkiError(PkiErrorKind.MALFORMED, f"{source}: {detail}") from None
