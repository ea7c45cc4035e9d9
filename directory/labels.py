"""Message labels: the classification a message carries, read from its headers.

Sources: the subject line, X-Protective-Marking (UK simple and Australian `SEC=` forms), RFC 7444
SIO-Label (ESS security label or display marking) and Microsoft Purview `msip_labels`. Every
label found is reported; the message's classification is the highest recognised one. A label
that is present but not understood is reported as unrecognised, and `LabelRules` says whether
that blocks (fail closed, the default).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import HeaderParser
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from directory.classification import Level, Scheme
from directory.configfile import (
    ConfigError,
    ConfigModel,
    Flag,
    Table,
    Text,
    array,
    load_model,
    read_toml,
)
from directory.errors import malformed

MAX_HEADERS = 256 * 1024  # a header section longer than this is refused
MAX_VALUE = 8192  # each label header is read up to this many characters
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_BRACKET_START = re.compile(r"^\s*\[([^\[\]]{1,200})\]")
_BRACKET_END = re.compile(r"\[([^\[\]]{1,200})\]\s*$")
_WS = re.compile(r"\s+")
_GUID = re.compile(r"MSIP_Label_([0-9a-fA-F-]{36})_([A-Za-z_]+)$")
_SIO_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)')


@dataclass(frozen=True, slots=True)
class Marking:
    source: str  # subject, x-protective-marking, sio-label, msip_labels
    text: str  # what the message said (shortened), for people
    level: Level | None  # None: present but not understood


@dataclass(frozen=True, slots=True)
class MessageLabel:
    markings: tuple[Marking, ...]
    level: Level | None  # the highest recognised marking; None when there is none
    encrypted: bool  # the message is S/MIME enveloped (application/pkcs7-mime enveloped-data)

    @property
    def unrecognised(self) -> tuple[Marking, ...]:
        return tuple(m for m in self.markings if m.level is None)


@dataclass(frozen=True)
class LabelRules:
    scheme: Scheme
    unlabelled: Level
    block_unrecognised: bool
    purview_guids: dict[str, Level]  # lower-case GUID -> level
    purview_names: dict[str, Level]  # folded name -> level
    sio: dict[str, dict[int, Level]]  # policy OID -> classification integer -> level


class _PurviewFile(ConfigModel):
    guids: Table = {}
    names: Table = {}


class _SioPolicyFile(ConfigModel):
    oid: Text
    classifications: Table


class _SioFile(ConfigModel):
    policies: Annotated[tuple[_SioPolicyFile, ...], BeforeValidator(array)] = ()


class _LabelsFile(ConfigModel):
    unlabelled: Text
    block_unrecognised: Flag = True
    purview: _PurviewFile = _PurviewFile()
    sio: _SioFile = _SioFile()


def load_label_rules(path: Path, scheme: Scheme) -> LabelRules:
    data, _ = read_toml(path)
    found = load_model(path, _LabelsFile, data)

    def level(key: str, name: object) -> Level:
        got = scheme.find(name) if isinstance(name, str) else None
        if got is None:
            raise ConfigError(path, key, f"{name!r} is not a classification of {scheme.name}")
        return got

    unlabelled = level("unlabelled", found.unlabelled)
    purview = found.purview
    guids = {g.lower(): level(f"purview.guids.{g}", v) for g, v in purview.guids.items()}
    names = {_fold(n): level(f"purview.names.{n}", v) for n, v in purview.names.items()}
    sio: dict[str, dict[int, Level]] = {}
    for index, policy in enumerate(found.sio.policies):
        key = f"sio.policies[{index}].classifications"
        values: dict[int, Level] = {}
        for number, name in policy.classifications.items():
            if not number.isdigit():
                raise ConfigError(path, key, f"{number!r} is not a whole number")
            values[int(number)] = level(f"{key}.{number}", name)
        sio[policy.oid] = values
    return LabelRules(scheme, unlabelled, found.block_unrecognised, guids, names, sio)


def read_label(headers: str, rules: LabelRules) -> MessageLabel:
    """Read every label of a message's header section (RFC 5322 text, folded or not)."""
    if len(headers) > MAX_HEADERS:
        raise malformed(f"the header section is longer than {MAX_HEADERS} characters")
    parsed = HeaderParser().parsestr(headers.replace("\r\n", "\n"), headersonly=True)
    markings: list[Marking] = []
    for value in parsed.get_all("X-Protective-Marking") or []:
        markings.append(_protective_marking(_unfold(value), rules.scheme))
    for value in parsed.get_all("SIO-Label") or []:
        markings.append(_sio_label(_unfold(value), rules))
    for value in parsed.get_all("msip_labels") or []:
        markings.extend(_msip_labels(_unfold(value), rules))
    subject = parsed.get("Subject")
    if subject is not None:
        found = subject_marking(_decoded(str(subject)), rules.scheme)
        if found is not None:
            markings.append(found)
    recognised = [m.level for m in markings if m.level is not None]
    top = max(recognised, key=lambda lv: lv.rank) if recognised else None
    content_type = _unfold(str(parsed.get("Content-Type", ""))).lower()
    encrypted = "pkcs7-mime" in content_type and "signed-data" not in content_type
    return MessageLabel(tuple(markings), top, encrypted)


def subject_marking(subject: str, scheme: Scheme) -> Marking | None:
    """A marking at the start of the subject ("OFFICIAL-SENSITIVE: ...", "[OFFICIAL] ..."), or
    bracketed at its end ("... [SEC=OFFICIAL:Sensitive]"). Unbracketed markings count only when a
    colon or dash follows them, or when written in capitals before ordinary words."""
    text = _REPLY_PREFIX.sub("", _WS.sub(" ", subject[:MAX_VALUE])).strip()
    for pattern in (_BRACKET_START, _BRACKET_END):
        match = pattern.search(text)
        if match:
            inner = match.group(1).strip()
            level = _security_value(inner, scheme) or scheme.find(inner)
            if level is not None:
                return Marking("subject", _show(inner), level)
    words = text.split(" ")
    for n in range(min(6, len(words)), 0, -1):
        candidate = " ".join(words[:n])
        following = words[n] if n < len(words) else None
        delimited = candidate.endswith((":", " -")) or following in (None, "-", "|", ":")
        stripped = candidate.rstrip(":- ").strip()
        if not stripped:
            continue
        capitals = stripped.isupper() and (following is None or not following.isupper())
        if not (delimited or capitals):
            continue
        level = scheme.find(stripped)
        if level is not None:
            return Marking("subject", _show(stripped), level)
    return None


def _protective_marking(value: str, scheme: Scheme) -> Marking:
    """`OFFICIAL-SENSITIVE` (UK) or `VER=2018.4, NS=gov.au, SEC=OFFICIAL:Sensitive, ...` (AU)."""
    if "=" in value:
        level = _security_value(value, scheme)
        sec = _pairs(value).get("SEC", value)
        return Marking("x-protective-marking", _show(sec), level)
    level = scheme.find(value)
    if level is None:  # "OFFICIAL-SENSITIVE; PERSONAL", "OFFICIAL, COMMERCIAL"
        level = scheme.find(re.split(r"[;,]", value, maxsplit=1)[0])
    return Marking("x-protective-marking", _show(value), level)


def _security_value(value: str, scheme: Scheme) -> Level | None:
    pairs = _pairs(value)
    sec = pairs.get("SEC")
    if sec is None:
        return None
    level = scheme.find(sec)
    if level is None and pairs.get("DLM"):  # AU 2012: SEC=UNCLASSIFIED, DLM=Sensitive:Personal
        level = scheme.find(f"{sec} {pairs['DLM']}")
    return level


def _pairs(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        key, eq, val = part.partition("=")
        if eq:
            out.setdefault(key.strip().upper(), val.strip())
    return out


def _sio_label(value: str, rules: LabelRules) -> Marking:
    """RFC 7444: `marking="SECRET"; fgcolor=black; bgcolor=red; type=":ess"; label="MQYG..."`."""
    params: dict[str, str] = {}
    for match in _SIO_PARAM.finditer(value):
        raw = match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(match.group(1).lower(), raw)
    marking = params.get("marking")
    if params.get("type") == ":ess" and params.get("label"):
        decoded = _ess_label(params["label"])
        if decoded is not None:
            oid, number = decoded
            level = rules.sio.get(oid, {}).get(number) if number is not None else None
            if level is not None:
                return Marking("sio-label", _show(marking or f"{oid} {number}"), level)
    if marking:
        return Marking("sio-label", _show(marking), rules.scheme.find(marking))
    return Marking("sio-label", _show(value), None)


def _ess_label(text: str) -> tuple[str, int | None] | None:
    """The policy OID and classification of an RFC 2634 ESSSecurityLabel (DER, base64)."""
    try:
        der = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None
    body = _tlv(der, 0, 0x31)
    if body is None:
        return None
    start, end = body
    oid_tlv = _tlv(der, start, 0x06)
    if oid_tlv is None:
        return None
    oid = _oid(der[oid_tlv[0] : oid_tlv[1]])
    number: int | None = None
    if oid_tlv[1] < end:
        int_tlv = _tlv(der, oid_tlv[1], 0x02)
        if int_tlv is not None and 0 < int_tlv[1] - int_tlv[0] <= 4:
            number = int.from_bytes(der[int_tlv[0] : int_tlv[1]], "big", signed=True)
    return (oid, number) if oid else None


def _tlv(der: bytes, at: int, tag: int) -> tuple[int, int] | None:
    """(start, end) of the contents of the DER element of this tag at `at`."""
    if at + 2 > len(der) or der[at] != tag:
        return None
    length, at = der[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 3 or at + count > len(der):
            return None
        length, at = int.from_bytes(der[at : at + count], "big"), at + count
    return (at, at + length) if at + length <= len(der) else None


def _oid(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        return ""
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def _msip_labels(value: str, rules: LabelRules) -> list[Marking]:
    """`MSIP_Label_<guid>_Enabled=true; MSIP_Label_<guid>_Name=...; ...` (one or more labels)."""
    labels: dict[str, dict[str, str]] = {}
    for part in value.split(";"):
        key, eq, val = part.strip().partition("=")
        match = _GUID.match(key) if eq else None
        if match:
            labels.setdefault(match.group(1).lower(), {})[match.group(2).lower()] = val.strip()
    found: list[Marking] = []
    for guid, fields in labels.items():
        if fields.get("enabled", "").lower() != "true":
            continue
        name = fields.get("name", "")
        level = rules.purview_guids.get(guid)
        if level is None and name:
            level = rules.purview_names.get(_fold(name)) or rules.scheme.find(name)
        found.append(Marking("msip_labels", _show(name or guid), level))
    if not found and value.strip():
        found.append(Marking("msip_labels", _show(value), None))
    return found


def _unfold(value: str) -> str:
    return _WS.sub(" ", value[:MAX_VALUE]).strip()


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError):
        return value


def _fold(name: str) -> str:
    return _WS.sub(" ", name).strip().upper()


def _show(text: str) -> str:
    return text[:120]
