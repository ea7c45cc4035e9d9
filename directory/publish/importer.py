"""Importing an organisation's mailboxes from its own LDAP / Active Directory, or from CSV.

1. Read candidates from the source (paged LDAP search, or CSV rows), mapped to Clearance's
   fields by config/ldap/import.toml.
2. Plan: every candidate is added, already present (unchanged or a new display name), or skipped
   with the reason (not a valid address, not on one of the organisation's verified domains,
   given twice, ...). Only addresses on the organisation's own verified domains are added.
3. Apply (unless a dry run): new mailboxes through `Registration.add_mailboxes` (audited, one
   entry each, a transaction per chunk); changed names through `Registration.update_recipient`.
Re-running an import changes nothing the second time.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directory.address import normalise
from directory.authz import Principal
from directory.configfile import ConfigError, read_toml
from directory.errors import DirectoryError, malformed
from directory.publish.connection import LDAPSession, LDAPTarget, text
from directory.registration import NewMailbox
from directory.service import Directory
from directory.store.changes import ChangeReader

FIELDS = ("address", "display_name", "given_name", "surname", "role")
CHUNK = 1000
Progress = Callable[[int], None]  # called with the number of source records read so far


@dataclass(frozen=True)
class Mapping:
    """Source attribute (LDAP) or column (CSV) names for each field, first present wins."""

    ldap: dict[str, tuple[str, ...]]
    csv: dict[str, tuple[str, ...]]
    ldap_filter: str
    page_size: int

    @classmethod
    def load(cls, path: Path) -> Mapping:
        data, _ = read_toml(path)
        ldap = data.get("ldap", {})
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        for section, table in (
            ("ldap.attributes", ldap.get("attributes", {})),
            ("csv.columns", data.get("csv", {}).get("columns", {})),
        ):
            names: dict[str, tuple[str, ...]] = {}
            for key, value in table.items():
                if key not in FIELDS:
                    raise ConfigError(
                        path, f"{section}.{key}", f"is not one of {', '.join(FIELDS)}"
                    )
                values = [value] if isinstance(value, str) else value
                if not values or not all(isinstance(v, str) and v for v in values):
                    raise ConfigError(path, f"{section}.{key}", "must be a name or a list of names")
                names[key] = tuple(values)
            if "address" not in names:
                raise ConfigError(path, f"{section}.address", "is required")
            out[section] = names
        page_size = ldap.get("page_size", 500)
        if not isinstance(page_size, int) or not 1 <= page_size <= 10000:
            raise ConfigError(path, "ldap.page_size", "must be an integer from 1 to 10000")
        search_filter = ldap.get("filter", "(mail=*)")
        if not isinstance(search_filter, str) or not search_filter.startswith("("):
            raise ConfigError(path, "ldap.filter", "must be an LDAP filter in parentheses")
        return cls(out["ldap.attributes"], out["csv.columns"], search_filter, page_size)


@dataclass(frozen=True)
class Candidate:
    source: str  # the LDAP DN or "line N" of the CSV file
    address: str | None
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    role: str = "person"


@dataclass
class ImportPlan:
    add: list[NewMailbox] = field(default_factory=list)
    rename: list[tuple[str, str, str | None]] = field(default_factory=list)  # id, address, name
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    read: int = 0


def _pick(record: dict[str, Any], names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in record.items()}
    for name in names:
        values = lowered.get(name.lower())
        found = text(values) if isinstance(values, list) else ([values] if values else [])
        for value in found:
            if value and value.strip():
                return value.strip()
    return None


def read_ldap(
    target: LDAPTarget, search_filter: str, mapping: Mapping, progress: Progress | None = None
) -> Iterator[Candidate]:
    names = sorted({n for names in mapping.ldap.values() for n in names})
    with LDAPSession(target) as session:
        for count, (dn, attributes) in enumerate(
            session.search(target.base_dn, search_filter, names, page_size=mapping.page_size),
            start=1,
        ):
            yield _candidate(dn, attributes, mapping.ldap)
            if progress:
                progress(count)


def read_csv(path: Path, mapping: Mapping, progress: Progress | None = None) -> Iterator[Candidate]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise malformed(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not any(
            n.lower() in {f.lower() for f in reader.fieldnames} for n in mapping.csv["address"]
        ):
            raise malformed(
                f"{path} needs a header row with an address column "
                f"({' or '.join(mapping.csv['address'])})"
            )
        try:
            for count, row in enumerate(reader, start=1):
                yield _candidate(f"line {count + 1}", dict(row), mapping.csv)
                if progress:
                    progress(count)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise malformed(f"{path} is not valid UTF-8 CSV: {exc}") from None


def _candidate(source: str, record: dict[str, Any], names: dict[str, tuple[str, ...]]) -> Candidate:
    values = {key: _pick(record, names[key]) for key in FIELDS if key in names}
    return Candidate(
        source,
        values.get("address"),
        values.get("display_name"),
        values.get("given_name"),
        values.get("surname"),
        values.get("role") or "person",
    )


class RecipientImport:
    def __init__(self, directory: Directory, principal: Principal, organisation_id: str) -> None:
        self.directory = directory
        self.principal = principal
        self.organisation = directory.registration.organisation(principal, organisation_id)
        self.reader = ChangeReader(directory.store.engine)

    def plan(self, candidates: Iterable[Candidate]) -> ImportPlan:
        store = self.directory.store
        org = self.organisation
        verified = {d.name: d for d in store.domains(org.id) if d.verified_at is not None}
        plan = ImportPlan()
        seen: set[str] = set()
        pending: list[tuple[Candidate, str]] = []
        for candidate in candidates:
            plan.read += 1
            what = candidate.address or candidate.source
            if not candidate.address:
                plan.skipped.append((candidate.source, "no address in the source record"))
                continue
            try:
                parsed = normalise(candidate.address)
            except DirectoryError as exc:
                plan.skipped.append((what, f"not a valid address: {exc.detail}"))
                continue
            address, domain = parsed.text, parsed.domain
            if domain not in verified:
                owner = store.domain_by_name(domain)
                why = (
                    f"{domain} is not a domain of {org.name}"
                    if owner is None or owner.organisation_id != org.id
                    else f"{domain} is not verified yet"
                )
                plan.skipped.append((what, why))
                continue
            separator = verified[domain].subaddress_separator
            if parsed.without_subaddress(separator) != parsed:
                # lookups strip the tag on this domain: such an entry could never match
                plan.skipped.append((what, f"{domain} uses {separator!r} for sub-addresses"))
                continue
            if candidate.role not in ("person", "shared", "system"):
                plan.skipped.append((what, f"unknown role {candidate.role!r}"))
                continue
            if address in seen:
                plan.skipped.append((what, "given more than once in the source"))
                continue
            seen.add(address)
            pending.append((candidate, address))
        for i in range(0, len(pending), CHUNK):
            part = pending[i : i + CHUNK]
            existing = self.reader.mailboxes_at([a for _, a in part])
            for candidate, address in part:
                found = existing.get(address)
                if found is None:
                    plan.add.append(
                        NewMailbox(
                            address,
                            candidate.display_name,
                            candidate.given_name,
                            candidate.surname,
                            candidate.role,
                        )
                    )
                elif candidate.display_name and found.display_name != candidate.display_name:
                    entry = store.mailbox_entry(address)
                    if entry is not None:
                        plan.rename.append((entry.id, address, candidate.display_name))
                else:
                    plan.unchanged.append(address)
        return plan

    def apply(self, plan: ImportPlan, progress: Progress | None = None) -> int:
        registration = self.directory.registration
        done = 0
        for i in range(0, len(plan.add), CHUNK):
            done += registration.add_mailboxes(
                self.principal, self.organisation.id, plan.add[i : i + CHUNK]
            )
            if progress:
                progress(done)
        for recipient_id, _address, name in plan.rename:
            registration.update_recipient(self.principal, recipient_id, display_name=name)
            done += 1
            if progress:
                progress(done)
        return done
