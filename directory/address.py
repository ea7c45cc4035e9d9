"""Address normalisation: the first step of every lookup.

IDNA A-label lower-case domain, Unicode NFC, local part compared case-insensitively. Anything that
is not a valid mailbox raises `DirectoryError(malformed)`: a client error, never a "no".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import idna

from directory.errors import malformed

MAX_ADDRESS = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL = 64
MAX_DOMAIN = 253

_ATEXT = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff"
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_QUOTED = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_LDH_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # ASCII C and Z, less " "
# The common case, taken without the general path: an ASCII dot-atom local part, one "@" and an
# ASCII domain; the domain is still checked (and memoised) by normalise_domain.
_PLAIN = re.compile(
    r"([A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*)"
    r"@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+\.?)"
)


class Address(NamedTuple):
    local: str  # NFC, lower case; dot-atom, or a quoted string kept quoted
    domain: str  # IDNA A-label, lower case, no trailing dot

    @property
    def text(self) -> str:
        return f"{self.local}@{self.domain}"

    def base_text(self, separator: str | None) -> str:
        """`without_subaddress(separator).text`, without making an Address when there is no
        subaddress (the common case, on every lookup)."""
        if not separator or separator not in self.local:
            return f"{self.local}@{self.domain}"
        return self.without_subaddress(separator).text

    def without_subaddress(self, separator: str | None) -> Address:
        if not separator or self.local.startswith('"'):
            return self
        base, sep, _ = self.local.partition(separator)
        return Address(base, self.domain) if sep and base else self


# Address(local, domain) without NamedTuple's Python-level __new__: half the cost, same tuple
_new_address = tuple.__new__


def normalise(raw: str) -> Address:
    plain = _PLAIN.fullmatch(raw) if isinstance(raw, str) and len(raw) <= MAX_ADDRESS else None
    if plain is not None:
        local, domain = plain.groups()
        if len(local) <= MAX_LOCAL:
            return _new_address(Address, (local.lower(), normalise_domain(domain)))
    return normalise_any(raw)


def normalise_any(raw: str) -> Address:
    """The general path (quoted local parts, Unicode, IDNA): what `normalise` does for every
    address its plain-ASCII shortcut does not take, and the same answer for those it does."""
    if not isinstance(raw, str) or not raw:
        raise malformed("an address is required", field="address")
    if len(raw) > MAX_ADDRESS * 4:
        raise malformed("the address is too long", field="address")
    text = raw.strip()
    if text.isascii():  # the common case: NFC is the identity, and C/Z means control characters
        if _ASCII_CONTROL.search(text):
            raise malformed("the address contains control or separator characters", field="address")
    else:
        text = unicodedata.normalize("NFC", text)
        if any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in text):
            raise malformed("the address contains control or separator characters", field="address")
    local, at, domain_text = text.rpartition("@")
    if not at or not local or not domain_text:
        raise malformed(f"{_show(raw)} is not a mailbox address (local@domain)", field="address")
    address = Address(normalise_local(local, raw), normalise_domain(domain_text))
    if len(address.text.encode("utf-8")) > MAX_ADDRESS:
        raise malformed("the address is longer than 254 octets", field="address")
    return address


def normalise_local(local: str, raw: str) -> str:
    if local.startswith('"') and _QUOTED.fullmatch(local):
        inner = re.sub(r"\\(.)", r"\1", local[1:-1])
        if _DOT_ATOM.fullmatch(inner):
            local = inner  # a needlessly quoted local part means the same as the plain one
        else:
            local = '"' + re.sub(r'(["\\])', r"\\\1", inner) + '"'
    elif not _DOT_ATOM.fullmatch(local):
        raise malformed(f"{_show(raw)} has an invalid local part", field="address")
    if len(local.encode("utf-8")) > MAX_LOCAL:
        raise malformed("the local part is longer than 64 octets", field="address")
    return local.lower()


@lru_cache(maxsize=65536)
def normalise_domain(domain: str) -> str:
    """IDNA 2008 (with UTS #46 mapping) A-label form, lower case, without a trailing dot."""
    name = domain[:-1] if domain.endswith(".") else domain
    if name.isascii():
        name = name.lower()
        labels = name.split(".")
        if all(_LDH_LABEL.fullmatch(label) for label in labels) and "xn--" not in name:
            return _check_domain(name, domain)
    try:
        name = idna.encode(name, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise malformed(f"{_show(domain)} is not a valid domain name", field="address") from None
    return _check_domain(name, domain)


def _check_domain(name: str, original: str) -> str:
    labels = name.split(".")
    if len(labels) < 2 or len(name) > MAX_DOMAIN:
        raise malformed(f"{_show(original)} is not a valid mail domain", field="address")
    if not all(_LDH_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise malformed(f"{_show(original)} is not a valid mail domain", field="address")
    return name


def _show(value: str) -> str:
    return repr(value[:80] + ("..." if len(value) > 80 else ""))
