"""Parsers for the mail-security TXT records and the MTA-STS policy file. Pure: no I/O.

Hand-written to the RFCs (docs/dns.md says why checkdmarc is not used): SPF (RFC 7208),
DMARC (RFC 7489, with the DMARCbis tags t, np and psd), MTA-STS (RFC 8461), TLS-RPT (RFC 8460).
Each parser raises `RecordError` with one sentence when the text does not parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from directory.model import DmarcPolicy


class RecordError(ValueError):
    pass


# --- SPF -----------------------------------------------------------------------------------
SPF_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
SPF_LOOKUP_TERMS = {"include", "a", "mx", "ptr", "exists", "redirect"}


def is_spf(text: str) -> bool:
    lower = text.lower()
    return lower == "v=spf1" or lower.startswith("v=spf1 ")


@dataclass(frozen=True)
class Spf:
    all_qualifier: str | None  # "-", "~", "?", "+" or None when there is no "all"
    lookups: int  # DNS-querying terms in this record itself
    includes: list[str]  # include: targets
    redirect: str | None


def parse_spf(text: str) -> Spf:
    terms = text.split()
    if not terms or terms[0].lower() != "v=spf1":
        raise RecordError("does not start with v=spf1")
    qualifier: str | None = None
    lookups, includes, redirect = 0, [], None
    for term in terms[1:]:
        lower = term.lower()
        if (
            "=" in lower
            and not lower.startswith(("+", "-", "~", "?"))
            and ":" not in lower.split("=", 1)[0]
        ):
            key, _, value = term.partition("=")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", key):
                raise RecordError(f"bad modifier {term[:60]!r}")
            if key.lower() == "redirect":
                if redirect is not None:
                    raise RecordError("more than one redirect")
                redirect = value.rstrip(".").lower()
                lookups += 1
            continue
        q = "+"
        if lower[0] in "+-~?":
            q, lower = lower[0], lower[1:]
        name = re.split(r"[:/]", lower, maxsplit=1)[0]
        if name not in SPF_MECHANISMS:
            raise RecordError(f"unknown mechanism {term[:60]!r}")
        if name in SPF_LOOKUP_TERMS:
            lookups += 1
        if name == "include":
            target = lower.partition(":")[2]
            if not target:
                raise RecordError("include without a domain")
            includes.append(target.rstrip("."))
        if name == "all":
            if lower != "all":
                raise RecordError(f"bad all term {term[:60]!r}")
            qualifier = q
    return Spf(qualifier, lookups, includes, redirect)


# --- DMARC ---------------------------------------------------------------------------------
DMARC_TAGS = {"v", "p", "sp", "np", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf", "ri", "t"}
DMARC_TAGS_BIS = {"psd"}


def is_dmarc(text: str) -> bool:
    return re.match(r"(?i)v\s*=\s*DMARC1\s*(;|$)", text) is not None


@dataclass(frozen=True)
class Dmarc:
    p: DmarcPolicy | None  # None: no p tag (treated as none)
    sp: DmarcPolicy | None
    np: DmarcPolicy | None
    pct: int
    testing: bool  # t=y (DMARCbis)
    psd: str | None  # y, n or u (DMARCbis)
    rua: list[str]
    unknown: list[str] = field(default_factory=list)


def _tags(text: str, what: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise RecordError(f"{what} tag {part[:40]!r} has no '='")
        out.append((key.strip().lower(), value.strip()))
    return out


def _policy(value: str, tag: str) -> DmarcPolicy:
    try:
        return DmarcPolicy.from_label(value.lower())
    except KeyError:
        raise RecordError(f"{tag}={value[:40]!r} is not none, quarantine or reject") from None


def parse_dmarc(text: str) -> Dmarc:
    tags = _tags(text, "DMARC")
    if not tags or tags[0] != ("v", "DMARC1"):
        raise RecordError("does not start with v=DMARC1")
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in tags:
        if key in seen:
            raise RecordError(f"tag {key} appears twice")
        seen[key] = value
        if key not in DMARC_TAGS and key not in DMARC_TAGS_BIS:
            unknown.append(key)
    p = _policy(seen["p"], "p") if "p" in seen else None
    sp = _policy(seen["sp"], "sp") if "sp" in seen else None
    np_ = _policy(seen["np"], "np") if "np" in seen else None
    pct_text = seen.get("pct", "100")
    if not pct_text.isdigit() or int(pct_text) > 100:
        raise RecordError(f"pct={pct_text[:20]!r} is not 0..100")
    t = seen.get("t", "n").lower()
    if t not in ("y", "n"):
        raise RecordError(f"t={t[:20]!r} is not y or n")
    psd = seen.get("psd")
    if psd is not None and psd.lower() not in ("y", "n", "u"):
        raise RecordError(f"psd={psd[:20]!r} is not y, n or u")
    rua = [u.strip() for u in seen.get("rua", "").split(",") if u.strip()]
    for uri in rua:
        if not re.match(r"(?i)^(mailto|https?):\S+$", uri):
            raise RecordError(f"rua {uri[:60]!r} is not a mailto: or https: URI")
    return Dmarc(p, sp, np_, int(pct_text), t == "y", psd.lower() if psd else None, rua, unknown)


def effective_dmarc(record: Dmarc, *, subdomain: bool) -> tuple[DmarcPolicy, bool]:
    """The policy that applies to the domain, and whether it applies only partly."""
    policy = record.p if record.p is not None else DmarcPolicy.NONE
    if subdomain and record.sp is not None:
        policy = record.sp
    partial = record.testing or record.pct < 100
    if partial and policy > DmarcPolicy.NONE:
        policy = DmarcPolicy(policy - 1)  # the unsampled share gets the next policy down
    return policy, partial


# --- MTA-STS -------------------------------------------------------------------------------
def is_mta_sts(text: str) -> bool:
    return re.match(r"v\s*=\s*STSv1\s*(;|$)", text) is not None


def parse_mta_sts_record(text: str) -> str:
    """The policy id of a _mta-sts TXT record."""
    tags = _tags(text, "MTA-STS")
    if not tags or tags[0] != ("v", "STSv1"):
        raise RecordError("does not start with v=STSv1")
    found = dict(tags)
    policy_id = found.get("id", "")
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", policy_id):
        raise RecordError("id must be 1 to 32 letters and digits")
    return policy_id


@dataclass(frozen=True)
class StsPolicy:
    mode: str  # enforce, testing or none
    mx: list[str]
    max_age: int


def parse_sts_policy(text: str) -> StsPolicy:
    values: dict[str, str] = {}
    mx: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise RecordError(f"line {line[:40]!r} is not key: value")
        key, value = key.strip(), value.strip()
        if key == "mx":
            if not re.fullmatch(r"(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?", value):
                raise RecordError(f"mx {value[:60]!r} is not a host name pattern")
            mx.append(value.lower().rstrip("."))
        elif key in values:
            raise RecordError(f"{key} appears twice")
        else:
            values[key] = value
    if values.get("version") != "STSv1":
        raise RecordError("version is not STSv1")
    mode = values.get("mode")
    if mode not in ("enforce", "testing", "none"):
        raise RecordError("mode is not enforce, testing or none")
    max_age = values.get("max_age", "")
    if not max_age.isdigit() or len(max_age) > 10 or int(max_age) > 31557600:
        raise RecordError("max_age is not 0..31557600")
    if mode != "none" and not mx:
        raise RecordError("an enforce or testing policy needs at least one mx")
    return StsPolicy(mode, mx, int(max_age))


def mx_matches(host: str, pattern: str) -> bool:
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


# --- TLS-RPT -------------------------------------------------------------------------------
def is_tlsrpt(text: str) -> bool:
    return re.match(r"v\s*=\s*TLSRPTv1\s*(;|$)", text) is not None


def parse_tlsrpt(text: str) -> list[str]:
    tags = _tags(text, "TLS-RPT")
    if not tags or tags[0] != ("v", "TLSRPTv1"):
        raise RecordError("does not start with v=TLSRPTv1")
    rua = dict(tags).get("rua", "")
    uris = [u.strip() for u in rua.split(",") if u.strip()]
    if not uris:
        raise RecordError("no rua")
    for uri in uris:
        if not re.match(r"(?i)^(mailto:\S+@\S+|https://\S+)$", uri):
            raise RecordError(f"rua {uri[:60]!r} is not mailto: or https:")
    return uris
