"""LDAPPublisher: publish the directory's verified entries to OpenLDAP, in full or incrementally.

Attributes come from the lookup's own answers (an unauthenticated caller's view), so the LDAP
entry and the lookup answer agree for every address. Each entry carries a digest of what was
published, so a full publish sends only what differs.

Incremental sync is driven by the store's change sequence, recorded on the base entry
(clearanceSyncSeq) with the policy digest:
1. rows written since then name the organisations, domain-wide entries and mailboxes to
   re-evaluate (an organisation, domain, accreditation or sponsorship change re-evaluates all
   of that organisation's entries, and those of the organisations it sponsors);
2. published entries whose clearanceValidUntil has passed (an accreditation, sponsorship,
   posture or certificate lapsing by the clock alone) are re-evaluated too;
3. each is compared with what is published, and only differences are written.
A new policy, or a server without the recorded sequence, gets a full publish.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ldap3.utils.conv import escape_filter_chars

from directory.errors import DirectoryError, ErrorKind, conflict
from directory.lookup import Lookup
from directory.publish.connection import LDAPSession, LDAPTarget, Write, first, text
from directory.publish.entries import (
    CA_ATTRIBUTES,
    HORIZON,
    Entry,
    Key,
    Layout,
    domain_entry,
    generalized_time,
    key_of,
    organisation_entry,
    recipient_entry,
)
from directory.service import Directory
from directory.store import leases
from directory.store.changes import ChangeReader, DomainEntryFacts, MailboxFacts

BATCH = 1000  # addresses per lookup_many
LEASE = "ldap-publish"
LEASE_SECONDS = 900.0  # well beyond a publish of 1,000,000 entries (~4 minutes); a crashed
# run blocks the next for at most this long
FILTER_CHUNK = 100  # values per (|(...)(...)) search filter
READ_ATTRIBUTES = (
    "clearanceAddress",
    "associatedDomain",
    "clearanceOrganisationId",
    "clearanceEntryDigest",
    "clearanceOverriddenLocalPart",
)
PUBLISHED = "(|(objectClass=clearanceRecipient)(objectClass=clearanceOrganisation))"


@dataclass
class PublishReport:
    full: bool
    seq: int = 0
    added: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    operations: int = 0
    seconds: float = 0.0


@dataclass
class Published:
    dn: str
    digest: str | None
    overridden: set[str]


@dataclass(frozen=True)
class PublishedState:
    seq: int
    policy_digest: str | None


def any_of(attribute: str, values: Iterable[str]) -> Iterator[str]:
    """(|(attr=v1)(attr=v2)...) filters, every value escaped, FILTER_CHUNK values each."""
    items = sorted(set(values))
    for i in range(0, len(items), FILTER_CHUNK):
        parts = "".join(
            f"({attribute}={escape_filter_chars(v)})" for v in items[i : i + FILTER_CHUNK]
        )
        yield f"(|{parts})"


class LDAPPublisher:
    def __init__(
        self,
        directory: Directory,
        target: LDAPTarget,
        *,
        ca_certificate: bytes | None = None,
        crl: bytes | None = None,
    ) -> None:
        self.store = directory.store
        self.policy = directory.policy
        self.clock = directory.clock
        self.target = target
        self.layout = Layout(target.base_dn)
        self.reader = ChangeReader(directory.store.engine)
        self.ca_certificate = ca_certificate
        self.crl = crl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # The same lookup, with a validity window so long that an answer's valid_until is when
        # its facts lapse (see entries.HORIZON); always current (no snapshot delay).
        horizon_policy = replace(self.policy, answer_valid_seconds=int(HORIZON.total_seconds()))
        self.lookup = Lookup(
            self.store, horizon_policy, self.clock, refresh_seconds=0.0, batch_limit=BATCH
        )

    # --- entry points ---------------------------------------------------------------------
    def publish(self) -> PublishReport:
        """Make the LDAP copy equal to the directory: add, modify and delete as needed."""
        with self._lease(), LDAPSession(self.target) as session:
            return self._full(session)

    def sync(self) -> PublishReport:
        """Send only what changed since the last publish or sync."""
        with self._lease(), LDAPSession(self.target) as session:
            state = self.published_state(session)
            if state is None or state.policy_digest != self.policy.digest:
                return self._full(session)
            return self._incremental(session, state.seq)

    @contextmanager
    def _lease(self) -> Iterator[None]:
        """One publish or sync at a time (directory/store/leases.py): another run's refusal
        is a conflict, before anything is read or written."""
        engine = self.store.engine
        other = leases.take(engine, LEASE, self.holder, self.clock(), LEASE_SECONDS)
        if other is not None:
            holder, until = other
            raise conflict(
                f"another LDAP publish or sync is running ({holder}, lease until "
                f"{until.isoformat()}); try again when it has finished"
            )
        try:
            yield
        finally:
            leases.release(engine, LEASE, self.holder)

    def published_state(self, session: LDAPSession) -> PublishedState | None:
        found = session.read(self.layout.base_dn, ["clearanceSyncSeq", "clearancePolicyDigest"])
        if found is None:
            return None
        seq = first(found.get("clearanceSyncSeq"))
        if seq is None:
            return None
        return PublishedState(int(seq), first(found.get("clearancePolicyDigest")))

    # --- full -----------------------------------------------------------------------------
    def _full(self, session: LDAPSession) -> PublishReport:
        started = time.perf_counter()
        report = PublishReport(full=True, seq=self.store.state().seq)  # read before the data
        now = self.clock()
        self._ensure_tree(session)
        current = self._published(session, [PUBLISHED])
        desired = _chain(
            self._mailbox_entries(self.reader.mailboxes(), now),
            self._domain_entries(self.reader.domain_entries(), now),
            self._organisation_entries(None, now),
        )
        self._reconcile(session, desired, current, report)
        self._publish_ca(session, report)
        self._record(session, report)
        report.seconds = time.perf_counter() - started
        return report

    # --- incremental ----------------------------------------------------------------------
    def _incremental(self, session: LDAPSession, since: int) -> PublishReport:
        started = time.perf_counter()
        changes = self.reader.changes_since(since)
        report = PublishReport(full=False, seq=changes.seq)
        now = self.clock()
        organisations = set(changes.organisations)
        addresses = set(changes.addresses)
        domain_names: set[str] = set()
        lapsed = f"(clearanceValidUntil<={escape_filter_chars(generalized_time(now))})"
        for _dn, attributes in session.search(self.layout.base_dn, lapsed, READ_ATTRIBUTES):
            key = key_of(attributes)
            if key is None:
                continue
            kind, value = key
            if kind == "recipient":
                addresses.add(value)
            elif kind == "domain":
                domain_names.add(value)
            else:
                organisations.add(value)
        organisations = self._with_sponsored(organisations)
        if organisations:
            self._sync_organisations(session, organisations, now, report)
        if addresses:
            self._sync_addresses(session, addresses, organisations, now, report)
        for domain_id in changes.domain_entries:
            domain = self.store.domain(domain_id)
            if domain is not None and domain.organisation_id not in organisations:
                domain_names.add(domain.name)
        if domain_names:
            self._sync_domains(session, domain_names, organisations, now, report)
        self._publish_ca(session, report)
        self._record(session, report)
        report.seconds = time.perf_counter() - started
        return report

    def _with_sponsored(self, organisations: set[str]) -> set[str]:
        """Add the organisations whose trust rests on these (sponsorship, transitively)."""
        out, frontier = set(organisations), set(organisations)
        while frontier:
            frontier = self.reader.sponsored_by(frontier) - out
            out |= frontier
        return out

    def _sync_organisations(
        self, session: LDAPSession, organisations: set[str], now: datetime, report: PublishReport
    ) -> None:
        ordered = sorted(organisations)
        for i in range(0, len(ordered), 50):
            chunk = set(ordered[i : i + 50])
            current = self._published(session, list(any_of("clearanceOrganisationId", chunk)))
            desired = _chain(
                self._mailbox_entries(self.reader.mailboxes(chunk), now),
                self._domain_entries(self.reader.domain_entries(organisation_ids=chunk), now),
                self._organisation_entries(chunk, now),
            )
            self._reconcile(session, desired, current, report)

    def _sync_addresses(
        self,
        session: LDAPSession,
        addresses: set[str],
        done_organisations: set[str],
        now: datetime,
        report: PublishReport,
    ) -> None:
        facts = self.reader.mailboxes_at(addresses)
        todo = {
            a
            for a in addresses
            if a not in facts or facts[a].organisation_id not in done_organisations
        }
        if not todo:
            return
        current = self._published(session, list(any_of("clearanceAddress", todo)))
        current = {k: v for k, v in current.items() if k[0] == "recipient"}
        ordered = sorted(todo)
        batches = (
            [facts[a] for a in ordered[i : i + BATCH] if a in facts]
            for i in range(0, len(ordered), BATCH)
        )
        self._reconcile(session, self._mailbox_entries(batches, now), current, report)
        # A domain-wide entry does not answer for local parts that have their own entry.
        by_domain: dict[str, tuple[set[str], set[str]]] = {}
        for address in todo:
            local, _, domain = address.rpartition("@")
            present, absent = by_domain.setdefault(domain, (set(), set()))
            (present if address in facts else absent).add(local)
        wide = self._published(session, list(any_of("associatedDomain", by_domain)))
        for (kind, domain), published in wide.items():
            if kind != "domain":
                continue
            present, absent = by_domain[domain]
            add = sorted(present - published.overridden)
            delete = sorted(absent & published.overridden)
            if add or delete:
                session.change_values(
                    published.dn, "clearanceOverriddenLocalPart", add=add, delete=delete
                )
                report.modified += 1

    def _sync_domains(
        self,
        session: LDAPSession,
        names: set[str],
        done_organisations: set[str],
        now: datetime,
        report: PublishReport,
    ) -> None:
        snapshot = self.lookup.snapshots.current()
        ids = {snapshot.domains[n].id for n in names if n in snapshot.domains}
        facts = [
            f
            for f in self.reader.domain_entries(domain_ids=ids)
            if f.organisation_id not in done_organisations
        ]
        current = self._published(session, list(any_of("associatedDomain", names)))
        current = {k: v for k, v in current.items() if k[0] == "domain" and k[1] in names}
        self._reconcile(session, self._domain_entries(facts, now), current, report)

    # --- desired entries ------------------------------------------------------------------
    def _mailbox_entries(
        self, batches: Iterable[list[MailboxFacts]], now: datetime
    ) -> Iterator[Entry]:
        for batch in batches:
            for i in range(0, len(batch), BATCH):
                part = batch[i : i + BATCH]
                answers = self.lookup.answers_many([f.address for f in part])
                for facts, answer in zip(part, answers, strict=True):
                    entry = recipient_entry(self.layout, answer, facts, now)
                    if entry is not None:
                        yield entry

    def _domain_entries(self, facts: list[DomainEntryFacts], now: datetime) -> Iterator[Entry]:
        if not facts:
            return
        overridden = self.reader.mailbox_local_parts([f.domain_id for f in facts])
        for f in facts:
            # The domain-wide answer is the lookup's answer for an address no entry names.
            probe = f"clearance-probe-{secrets.token_hex(8)}@{f.domain}"
            answer = self.lookup.answer(probe)
            entry = domain_entry(self.layout, answer, f, overridden[f.domain_id], now)
            if entry is not None:
                yield entry

    def _organisation_entries(self, ids: set[str] | None, now: datetime) -> Iterator[Entry]:
        snapshot = self.lookup.snapshots.current()
        for org in snapshot.organisations.values():
            if ids is None or org.id in ids:
                entry = organisation_entry(
                    self.layout, org, snapshot.trust(org, now), self.policy, now
                )
                if entry is not None:
                    yield entry

    # --- comparing and writing -----------------------------------------------------------
    def _published(self, session: LDAPSession, filters: list[str]) -> dict[Key, Published]:
        found: dict[Key, Published] = {}
        for search_filter in filters:
            for dn, attributes in session.search(
                self.layout.base_dn, search_filter, READ_ATTRIBUTES
            ):
                key = key_of(attributes)
                if key is not None:
                    found[key] = Published(
                        dn,
                        first(attributes.get("clearanceEntryDigest")),
                        {v.lower() for v in text(attributes.get("clearanceOverriddenLocalPart"))},
                    )
        return found

    def _reconcile(
        self,
        session: LDAPSession,
        desired: Iterable[Entry],
        current: dict[Key, Published],
        report: PublishReport,
    ) -> None:
        """Write the differences; delete what is published in `current` but not desired.
        The writes are pipelined while the next entries are built (LDAPSession.write_all)."""

        def writes() -> Iterator[Write[Entry]]:
            for entry in desired:
                published = current.pop(entry.key, None)
                if published is None:
                    attributes = entry.for_add()
                    attributes["objectClass"] = list(entry.object_classes)
                    report.added += 1
                    yield Write("add", entry.dn, attributes, entry)
                elif published.digest != entry.digest or (
                    entry.overridden is not None and published.overridden != set(entry.overridden)
                ):
                    report.modified += 1
                    yield Write("replace", published.dn, _replacement(entry))
                else:
                    report.unchanged += 1
            for published in current.values():
                report.deleted += 1
                yield Write("delete", published.dn)

        existed = session.write_all(writes())
        # Present but not found by the search that filled `current` (e.g. without our naming
        # attribute's value as searched): overwrite what we manage.
        session.write_all(
            Write("replace", w.dn, _replacement(w.item)) for w in existed if w.item is not None
        )

    def _ensure_tree(self, session: LDAPSession) -> None:
        base = self.layout.base_dn
        found = session.read(base, ["objectClass"])
        if found is None:
            attribute, _, value = base.split(",", 1)[0].partition("=")
            attribute = attribute.strip().lower()
            classes = {
                "dc": ["top", "dcObject", "organization"],
                "o": ["top", "organization"],
                "ou": ["top", "organizationalUnit"],
            }.get(attribute)
            if classes is None:
                raise DirectoryError(
                    ErrorKind.CONFIG,
                    f"create the base entry {base} first (its naming attribute is not dc, o or ou)",
                )
            values: dict[str, Any] = {"o": value.strip()} if attribute != "ou" else {}
            session.add(base, [*classes, "clearancePublication"], values)
        elif "clearancePublication" not in {c.lower() for c in text(found.get("objectClass"))}:
            session.change_values(base, "objectClass", add=["clearancePublication"])
        for ou in ("recipients", "domains", "organisations"):
            session.add(f"ou={ou},{base}", ["top", "organizationalUnit"], {"ou": ou})

    def _publish_ca(self, session: LDAPSession, report: PublishReport) -> None:
        if self.ca_certificate is None:
            return
        values: dict[str, list[bytes]] = {
            "cACertificate;binary": [self.ca_certificate],
            "certificateRevocationList;binary": [self.crl] if self.crl else [],
        }
        found = session.read(
            self.layout.ca, ["cACertificate;binary", "certificateRevocationList;binary"]
        )
        if found is None:
            session.add(
                self.layout.ca,
                ["top", "applicationProcess", "pkiCA"],
                {"cn": "certification-authority", **{k: v for k, v in values.items() if v}},
            )
            report.added += 1
            return
        now_published = {name: list(found.get(name) or []) for name in CA_ATTRIBUTES}
        if now_published != values:
            session.replace(self.layout.ca, values)
            report.modified += 1

    def _record(self, session: LDAPSession, report: PublishReport) -> None:
        session.replace(
            self.layout.base_dn,
            {
                "clearanceSyncSeq": [str(report.seq)],
                "clearancePolicyName": [self.policy.name],
                "clearancePolicyDigest": [self.policy.digest],
            },
        )
        report.operations = session.operations


def _replacement(entry: Entry) -> dict[str, Any]:
    changes: dict[str, Any] = dict(entry.attributes)
    changes["clearanceEntryDigest"] = [entry.digest]
    if entry.overridden is not None:
        changes["clearanceOverriddenLocalPart"] = sorted(entry.overridden)
    return changes


def _chain(*parts: Iterable[Entry]) -> Iterator[Entry]:
    for part in parts:
        yield from part


def read_der(path: str) -> bytes | None:
    """A certificate or CRL file (DER, or PEM with one block) as DER; None for an empty path."""
    if not path:
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DirectoryError(ErrorKind.CONFIG, f"cannot read {path}: {exc.strerror}") from None
    if raw.lstrip().startswith(b"-----BEGIN"):
        lines = raw.decode("ascii", "replace").splitlines()
        body = "".join(line.strip() for line in lines if line.strip() and "-----" not in line)
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise DirectoryError(ErrorKind.CONFIG, f"{path} is not valid PEM") from None
    return raw


def publisher_from_settings(directory: Directory) -> LDAPPublisher:
    settings = directory.settings
    return LDAPPublisher(
        directory,
        LDAPTarget.from_settings(settings),
        ca_certificate=read_der(settings.ldap_ca_certificate_file),
        crl=read_der(settings.ldap_crl_file),
    )
