"""The lookup: may this address receive information at this classification, and if not, why not.

1. Normalise the address (directory.address); a malformed one is a client error.
2. Match: the mailbox entry, else the domain-wide entry (unless excluded), else entries
   imported from federated directories (directory/federation/match.py), else unknown.
3. Evaluate: derived trust, then the policy classification by classification.
4. Answer, with reasons for every classification refused.

Callers without detail rights for the organisation see a known-but-untrusted address exactly as
they see an unknown one, so the directory cannot be used to harvest pending applications.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from directory import decision
from directory.address import Address, normalise
from directory.answer import Answer, AnswerOrganisation, Matched
from directory.answer_json import pem, stamp
from directory.classification import Level
from directory.errors import DirectoryError, ErrorKind, malformed
from directory.evaluation import Evaluation, RecipientFacts
from directory.federation.match import Match, Unmatched, match_federated
from directory.federation.records import FederatedDomain
from directory.model import Domain, TrustLevel
from directory.policy import Policy
from directory.snapshot import AnswerParts, Snapshot, SnapshotHolder, Table, Ticks
from directory.store.fastpath import LiveCertificate, MailboxRow
from directory.store.federation import FederationStore
from directory.store.store import DirectoryStore

Clock = Callable[[], datetime]
# Given an organisation id, may this caller see details (pending, suspended, reasons)?
DetailRule = Callable[[str | None], bool]
_NONE = TrustLevel.NONE.label
_T = TypeVar("_T")


def no_detail(_org_id: str | None) -> bool:
    return False


def all_detail(_org_id: str | None) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Moment:
    """The whole second an answer is given in, and its default expiry, with their text forms:
    made once a second. `checked_at` is that second; `until` is it plus the policy's
    answer_valid_seconds (never later than from the exact time). Decisions that depend on the
    time (is a cached answer stale, is a certificate live) use the exact time, not these."""

    second: datetime
    next_second: datetime
    checked_at: str
    until: datetime
    until_text: str
    policy_name: str
    policy_digest: str


# An answer as cached, without what every answer of its shape says (Snapshot.rendered) and its
# time stamps: a plain tuple of atomic parts (strings, numbers, datetimes), which the garbage
# collector stops tracking at once, so that a full answer cache costs its collections nothing
# (a NamedTuple, a dataclass or fresh nested tuples would stay tracked). Fields by position:
Body = tuple[
    str,  # the address, normalised
    int,  # its shape's number: index in Snapshot.rendered
    str | None,  # the recipient's name
    tuple[tuple[str, str, str, LiveCertificate], ...],  # certificates: serial, not_after, PEM
    datetime | None,  # CAP: valid_until is at most this (the evaluation's, a certificate's end)
    datetime | None,  # STALE_AT: from here on the clock alone may change the content
]
STALE_AT: Final = 5
# What the cache holds for an address: its Body when the same for every caller (a known,
# trusted recipient), else a Split: (organisation id whose detail rights decide, Body without
# detail rights or None, Body with or None).
Split = tuple[str | None, Body | None, Body | None]
_NO_SPLIT: Split = (None, None, None)
# A mailbox entry without certificates, as _body answers it for one snapshot, by (domain id,
# role, mailbox verified, rank asked): (until when it holds: the evaluation's renewal, the
# shape's number or None when untrusted, the Body's CAP and STALE_AT).
CommonKey = tuple[str, str, bool, int | None]
Common = tuple[datetime, int | None, datetime | None, datetime | None]
_NEVER: Final = datetime.max.replace(tzinfo=UTC)


class Lookup:
    def __init__(
        self,
        store: DirectoryStore,
        policy: Policy,
        clock: Clock,
        *,
        refresh_seconds: float = 1.0,
        batch_limit: int = 1000,
        answer_cache_entries: int = 200_000,
        ticks: Ticks = time.monotonic,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.batch_limit = batch_limit
        # refresh 0 means every lookup reads the store: then no answer is cached at all
        entries = answer_cache_entries if refresh_seconds > 0 else 0
        self.snapshots = SnapshotHolder(store, policy, refresh_seconds, entries, ticks)
        self.answers = self.snapshots.answers
        self._policy_name = policy.name
        self._policy_digest = policy.digest
        self._valid_for = timedelta(seconds=policy.answer_valid_seconds)
        self._moment: Moment | None = None
        self._levels: dict[str, Level] = {}  # marking as given -> level, for known markings
        self._common: tuple[Snapshot | None, dict[CommonKey, Common]] = (None, {})

    def classification(self, name: str | None) -> Level | None:
        if not name:
            return None
        level = self._levels.get(name)
        if level is None:
            level = self.policy.scheme.resolve(name)  # unknown: a client error, not remembered
            if len(self._levels) >= 1024:
                self._levels = {}
            self._levels[name] = level
        return level

    # --- public entry points --------------------------------------------------------------
    def reread(self) -> tuple[int, Snapshot]:
        """The store's change sequence now and a register snapshot at least that new, read
        from the store whatever the refresh interval (for a caller that keeps its own caches
        by that sequence, such as the gateway)."""
        seq = self.store.state().seq  # first: the snapshot is at least this new
        self.snapshots.invalidate()
        return seq, self.snapshots.current()

    def decide(
        self, address: str, classification: str | None = None, detail: DetailRule = no_detail
    ) -> Answer:
        """The answer directory/decision.py gives, its inputs read from the store and the
        register snapshot now, with no answer cache: the oracle the cached paths are tested
        against."""
        level = self.classification(classification)
        addr = normalise(address)
        snapshot = self.snapshots.current()
        now = self.clock()
        domain = snapshot.domains.get(addr.domain)
        mailbox: MailboxRow | None = None
        federated: Match | Unmatched | None = None
        if domain is not None:
            base = addr.base_text(domain.subaddress_separator)
            mailbox = self._read(self.store.mailboxes.find_one, base)
        elif (found := snapshot.federated.get(addr.domain)) is not None:
            mailboxes = FederationStore(self.store)
            federated = match_federated(
                self.policy, found, addr, now, lambda b: self._read(mailboxes.mailbox, b)
            )
        return decision.decide(
            self.policy, snapshot, addr, level, detail, now, mailbox=mailbox, federated=federated
        )

    def cached(
        self, address: str, classification: str | None = None, detail: DetailRule = no_detail
    ) -> dict[str, Any] | None:
        """The answer `lookup` would give, when the answer cache holds it and the change
        sequence is not due to be read; else None (and the store is not touched: a caller may
        then gather misses into a batch, off its event loop)."""
        pair = self.snapshots.fresh()
        if pair is None:
            return None
        snapshot, table = pair
        entry = table.get((address, classification))
        if entry is None:
            return None
        now = self.clock()
        body = self._hit(entry, detail, now)
        return None if body is None else _render(snapshot, body, now, self._moment_of(now))

    def cached_many(
        self,
        addresses: Sequence[str],
        classification: str | None = None,
        detail: DetailRule = no_detail,
    ) -> list[dict[str, Any]] | None:
        """What `lookup_many` would answer, when the answer cache holds every answer; else None
        (and neither the cache nor the store is touched)."""
        pair = self.snapshots.fresh()
        if pair is None or len(addresses) > self.batch_limit:
            return None
        snapshot, table = pair
        now = self.clock()
        bodies: list[Body] = []
        for raw in addresses:
            entry = table.get((raw, classification))
            body = _fresh(entry, detail, now) if entry is not None else None
            if body is None:
                return None
            bodies.append(body)
        self.answers.hits += len(bodies)
        moment = self._moment_of(now)
        return [_render(snapshot, body, now, moment) for body in bodies]

    def lookup(
        self, address: str, classification: str | None = None, detail: DetailRule = no_detail
    ) -> dict[str, Any]:
        """The answer as the JSON object the API gives (directory/answer_json.py's shape)."""
        snapshot, body, now = self._one(address, classification, detail)
        return _render(snapshot, body, now, self._moment_of(now))

    def answer(
        self, address: str, classification: str | None = None, detail: DetailRule = no_detail
    ) -> Answer:
        """The answer as a typed value (directory/answer.py), as `lookup` gives it."""
        snapshot, body, now = self._one(address, classification, detail)
        return _typed(snapshot, body, self._moment_of(now))

    def _one(
        self, address: str, classification: str | None, detail: DetailRule
    ) -> tuple[Snapshot, Body, datetime]:
        snapshot, table = self.snapshots.current_with_answers()
        now = self.clock()
        key = (address, classification)
        entry = table.get(key)  # on a miss: an answer for the other detail rights, or stale
        if entry is not None:
            body = self._hit(entry, detail, now)
            if body is not None:
                return snapshot, body, now
        self.answers.misses += 1
        level = self.classification(classification)
        addr = normalise(address)
        domain = snapshot.domains.get(addr.domain)
        row = None
        if domain is not None:
            row = self._read(
                self.store.mailboxes.find_one, addr.base_text(domain.subaddress_separator)
            )
            if row is not None and not row.certificates:
                body = self._trusted_mailbox(snapshot, table, key, addr, domain, row, level, now)
                if body is not None:
                    return snapshot, body, now
        body = self._remember(table, key, entry, snapshot, addr, domain, row, level, detail, now)
        return snapshot, body, now

    def _hit(self, entry: Any, detail: DetailRule, now: datetime) -> Body | None:
        """The body from a cache entry, if it holds one for these detail rights, not stale."""
        body = _fresh(entry, detail, now)
        if body is not None:
            self.answers.hits += 1
        return body

    def lookup_many(
        self,
        addresses: Sequence[str],
        classification: str | None = None,
        detail: DetailRule = no_detail,
    ) -> list[dict[str, Any]]:
        """The answers, in order, as `lookup` gives each (one query for the cache's misses)."""
        snapshot, bodies, now = self._many(addresses, classification, detail)
        moment = self._moment_of(now)
        return [_render(snapshot, body, now, moment) for body in bodies]

    def answers_many(
        self,
        addresses: Sequence[str],
        classification: str | None = None,
        detail: DetailRule = no_detail,
    ) -> list[Answer]:
        """The answers, in order, as `answer` gives each."""
        snapshot, bodies, now = self._many(addresses, classification, detail)
        moment = self._moment_of(now)
        return [_typed(snapshot, body, moment) for body in bodies]

    def _many(
        self, addresses: Sequence[str], classification: str | None, detail: DetailRule
    ) -> tuple[Snapshot, list[Body], datetime]:
        if len(addresses) > self.batch_limit:
            raise malformed(
                f"a batch holds at most {self.batch_limit} addresses, not {len(addresses)}",
                field="addresses",
            )
        level = self.classification(classification)
        snapshot, table = self.snapshots.current_with_answers()
        now = self.clock()  # one time for the whole batch
        bodies: list[Body | None] = [None] * len(addresses)
        misses: list[tuple[int, Any]] = []
        for index, raw in enumerate(addresses):
            entry = table.get((raw, classification))
            if entry is not None:  # _fresh, inlined: a call per address cost 6 % of a warm batch
                body = entry if len(entry) != 3 else entry[2 if detail(entry[0]) else 1]
                if body is not None and (body[STALE_AT] is None or now < body[STALE_AT]):
                    bodies[index] = body
                    continue
            misses.append((index, entry))
        self.answers.hits += len(addresses) - len(misses)
        self.answers.misses += len(misses)
        if misses:
            self._fill(
                bodies, misses, addresses, classification, snapshot, table, level, detail, now
            )
        return snapshot, bodies, now  # type: ignore[return-value]  # every one filled

    def _fill(
        self,
        bodies: list[Body | None],
        misses: list[tuple[int, Any]],
        addresses: Sequence[str],
        classification: str | None,
        snapshot: Snapshot,
        table: Table,
        level: Level | None,
        detail: DetailRule,
        now: datetime,
    ) -> None:
        """Answer the addresses not in the cache, with one query for their mailbox entries."""
        parsed: list[Address] = []
        problems: list[dict[str, Any]] = []
        for index, _entry in misses:
            try:
                parsed.append(normalise(addresses[index]))
            except DirectoryError as exc:  # malformed: report every bad one at once
                if exc.kind is not ErrorKind.MALFORMED:
                    raise  # a fault of ours is not the caller's bad address
                problems.append({"index": index, "detail": exc.detail})
        if problems:
            raise malformed(
                f"{len(problems)} of {len(addresses)} addresses are not valid mailboxes",
                field="addresses",
                invalid=problems,
            )
        keys: list[str] = []
        domains: list[Domain | None] = []
        for addr in parsed:
            domain = snapshot.domains.get(addr.domain)
            domains.append(domain)
            keys.append(addr.base_text(domain.subaddress_separator) if domain else "")
        rows = self._read(
            self.store.mailboxes.find, [k for k, d in zip(keys, domains, strict=True) if d]
        )
        for (index, entry), addr, domain, key in zip(misses, parsed, domains, keys, strict=True):
            row = rows.get(key) if domain is not None else None
            if domain is not None and row is not None and not row.certificates:
                body = self._trusted_mailbox(
                    snapshot,
                    table,
                    (addresses[index], classification),
                    addr,
                    domain,
                    row,
                    level,
                    now,
                )
                if body is not None:
                    bodies[index] = body
                    continue
            bodies[index] = self._remember(
                table,
                (addresses[index], classification),
                entry,
                snapshot,
                addr,
                domain,
                row,
                level,
                detail,
                now,
            )

    def _federated(
        self,
        snapshot: Snapshot,
        found: FederatedDomain,
        addr: Address,
        level: Level | None,
        may_see: bool,
        now: datetime,
    ) -> tuple[Body, bool]:
        """The body for an address of a federated domain (directory/federation/match.py)."""
        mailboxes = FederationStore(self.store)
        match = match_federated(
            self.policy, found, addr, now, lambda base: self._read(mailboxes.mailbox, base)
        )
        if isinstance(match, Unmatched):  # until the list expires: then its reason changes
            ends = found.list_valid_until if now < found.list_valid_until else None
            return self._unknown(snapshot, addr, level, match.code, may_see, ends), False
        cap = match.valid_until
        if not match.trusted and not may_see:
            return self._unknown(snapshot, addr, level, None, False, cap), False
        shape = decision.known(
            self.policy, match.evaluation, Matched.FEDERATED, level, match.organisation,
            match.posture, match.facts,
        )  # fmt: skip
        return (addr.text, snapshot.shape_id(shape), None, (), cap, cap), match.trusted

    def _read(self, read: Callable[[Any], _T], arg: Any) -> _T:
        """Read the store; when it cannot answer, drop every cached answer and re-read the
        change sequence next time: once the store is known to fail, no answer comes from the
        cache until it answers again."""
        try:
            return read(arg)
        except Exception:
            self.answers.clear()
            self.snapshots.invalidate()
            raise

    def _trusted_mailbox(
        self,
        snapshot: Snapshot,
        table: Table,
        key: tuple[str, str | None],
        addr: Address,
        domain: Domain,
        row: MailboxRow,
        level: Level | None,
        now: datetime,
    ) -> Body | None:
        """The common case, a mailbox entry without certificates that is trusted, answered and
        cached as _remember and _body would, without their calls; None when not trusted."""
        memo_snapshot, memo = self._common
        if memo_snapshot is not snapshot:
            memo = {}
            self._common = (snapshot, memo)
        common_key = (domain.id, row.role, row.mailbox_verified, level.rank if level else None)
        common = memo.get(common_key)
        if common is None or not now < common[0]:
            common = memo[common_key] = self._common_parts(snapshot, domain, row, level, now)
        _until, shape, cap, stale_at = common
        if shape is None:
            return None
        body = (addr.text, shape, row.display_name or None, (), cap, stale_at)
        self.answers.put(table, key, body)
        return body

    def _common_parts(
        self,
        snapshot: Snapshot,
        domain: Domain,
        row: MailboxRow,
        level: Level | None,
        now: datetime,
    ) -> Common:
        """What _body works out for a mailbox entry without certificates, for _trusted_mailbox
        to remember until the evaluation is renewed."""
        facts = RecipientFacts(row.role, row.mailbox_verified, False)
        evaluation, renew_at = snapshot.evaluation_until(domain, facts, now)
        until = renew_at or _NEVER
        if evaluation.trust.level is TrustLevel.NONE:
            return (until, None, None, None)
        parts = self._parts(snapshot, domain, facts, _MAILBOX, level, evaluation)
        cap = evaluation.valid_until
        return (until, parts.shape, cap, _earliest(renew_at, cap))

    # --- answers --------------------------------------------------------------------------
    def _remember(
        self,
        table: Table,
        key: tuple[str, str | None],
        entry: Any,
        snapshot: Snapshot,
        addr: Address,
        domain: Domain | None,
        row: MailboxRow | None,
        level: Level | None,
        detail: DetailRule,
        now: datetime,
    ) -> Body:
        """Work out an answer's body and cache it under the table it was computed for."""
        org_id = domain.organisation_id if domain is not None else None
        may_see = bool(detail(org_id))
        body, shared = self._body(snapshot, addr, domain, row, level, may_see, now)
        if shared:  # a known, trusted recipient: the same whoever asks
            self.answers.put(table, key, body)
            return body
        split: Split = entry if entry is not None and len(entry) == 3 else _NO_SPLIT
        if split[0] != org_id:
            split = _NO_SPLIT
        split = (org_id, split[1], body) if may_see else (org_id, body, split[2])
        self.answers.put(table, key, split)
        return body

    def _body(
        self,
        snapshot: Snapshot,
        addr: Address,
        domain: Domain | None,
        row: MailboxRow | None,
        level: Level | None,
        may_see: bool,
        now: datetime,
    ) -> tuple[Body, bool]:
        """The answer's body, and whether every caller gets the same (known and trusted)."""
        if domain is None:
            federated = snapshot.federated.get(addr.domain)  # else entries of federated peers
            if federated is not None:
                return self._federated(snapshot, federated, addr, level, may_see, now)
            return self._unknown(snapshot, addr, level, "recipient.unknown", may_see, None), False
        stale_at: datetime | None = None
        certificates: list[LiveCertificate] = []
        if row is not None:
            matched = _MAILBOX
            for c in row.certificates:
                if c.not_before <= now < c.not_after:
                    certificates.append(c)
                elif now < c.not_before:  # becomes live later: the answer changes then
                    stale_at = _earliest(stale_at, c.not_before)
            facts = RecipientFacts(row.role, row.mailbox_verified, bool(certificates))
            display_name = row.display_name
        else:
            entry = snapshot.domain_entries.get(domain.id)
            if entry is None:
                return self._unknown(
                    snapshot, addr, level, "recipient.unknown", may_see, None
                ), False
            local = addr.without_subaddress(domain.subaddress_separator).local
            if local in entry.exclusions:
                return self._unknown(
                    snapshot, addr, level, "recipient.excluded", may_see, None
                ), False
            matched, display_name = _DOMAIN, None
            facts = _DOMAIN_FACTS
        evaluation, renew_at = snapshot.evaluation_until(domain, facts, now)
        stale_at = _earliest(stale_at, renew_at)
        trusted = evaluation.trust.level is not TrustLevel.NONE
        if not trusted and not may_see:
            return self._unknown(snapshot, addr, level, None, False, stale_at), False
        parts = self._parts(snapshot, domain, facts, matched, level, evaluation)
        cap = evaluation.valid_until
        for c in certificates:
            cap = _earliest(cap, c.not_after)
        body = (
            addr.text,
            parts.shape,
            display_name or None,
            tuple([_certificate(c) for c in certificates]) if certificates else (),
            cap,
            _earliest(stale_at, cap),
        )
        return body, trusted

    def _parts(
        self,
        snapshot: Snapshot,
        domain: Domain,
        facts: RecipientFacts,
        matched: Matched,
        level: Level | None,
        evaluation: Evaluation,
    ) -> AnswerParts:
        """The part of a known answer that depends only on the evaluation and the level asked:
        memoised per snapshot, and rebuilt whenever the evaluation itself is renewed."""
        key = (domain.id, facts, level.rank if level else None)
        cached = snapshot.answer_parts.get(key)
        if cached is not None and cached.evaluation is evaluation:
            return cached
        org = snapshot.organisations[domain.organisation_id]
        organisation = AnswerOrganisation(org.id, org.name, org.sector)
        verdict = decision.known(
            self.policy, evaluation, matched, level, organisation, domain.posture, facts
        )
        parts = AnswerParts(evaluation, snapshot.shape_id(verdict))
        snapshot.answer_parts[key] = parts
        return parts

    def _unknown(
        self,
        snapshot: Snapshot,
        addr: Address,
        level: Level | None,
        code: str | None,
        may_see: bool,
        stale_at: datetime | None,
    ) -> Body:
        """The answer for anything untrusted. Without detail rights it is always the same."""
        detail_code = code if may_see and code else None
        key = (detail_code, level.rank if level else None)
        shape = snapshot.unknown_shapes.get(key)
        if shape is None:
            verdict = decision.unknown(self.policy, level, detail_code)
            shape = snapshot.unknown_shapes[key] = snapshot.shape_id(verdict)
        return (addr.text, shape, None, (), None, stale_at)

    def _moment_of(self, now: datetime) -> Moment:
        """The time stamps of the second `now` falls in, made once a second."""
        moment = self._moment
        if moment is not None and moment.second <= now < moment.next_second:
            return moment
        second = now.replace(microsecond=0)
        until = second + self._valid_for
        moment = self._moment = Moment(
            second,
            second + _ONE_SECOND,
            stamp(second),
            until,
            stamp(until),
            self._policy_name,
            self._policy_digest,
        )
        return moment


def _fresh(entry: Any, detail: DetailRule, now: datetime) -> Body | None:
    """A cached entry's body for a caller with these detail rights, if it has one and the clock
    has not reached its STALE_AT."""
    body: Body | None = entry if len(entry) != 3 else entry[2 if detail(entry[0]) else 1]
    if body is not None and (body[STALE_AT] is None or now < body[STALE_AT]):
        return body
    return None


def _render(snapshot: Snapshot, body: Body, now: datetime, moment: Moment) -> dict[str, Any]:
    """The answer: its shape's rendered dict, copied, with the body's address, recipient name
    and certificates and this second's time stamps. Its other nested dicts and lists are shared
    with the other answers of the same shape, and read-only: changing one raises TypeError."""
    address, shape_id, name, certificates, cap = body[:5]
    answer = snapshot.rendered[shape_id].copy()
    answer["address"] = address
    if name is not None and answer["organisation"] is not None:
        answer["organisation"] = {**answer["organisation"], "recipient_name": name}
    answer["certificates"] = (
        [{"serial": s, "not_after": n, "pem": p} for s, n, p, _c in certificates]
        if certificates
        else []
    )
    answer["checked_at"] = moment.checked_at
    answer["valid_until"] = (
        stamp(cap) if cap is not None and cap < moment.until else moment.until_text
    )
    return answer


_ONE_SECOND = timedelta(seconds=1)
_MAILBOX = Matched.MAILBOX
_DOMAIN = Matched.DOMAIN
_DOMAIN_FACTS = RecipientFacts("domain", False, False)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


def _certificate(cert: LiveCertificate) -> tuple[str, str, str, LiveCertificate]:
    return (cert.serial, stamp(cert.not_after), pem(cert.der), cert)


def _typed(snapshot: Snapshot, body: Body, moment: Moment) -> Answer:
    """The answer from a body, as a typed value."""
    address, shape_id, name, certificates, cap = body[:5]
    return Answer(
        address,
        snapshot.verdicts[shape_id],
        name,
        tuple([c[3] for c in certificates]),
        moment.second,
        cap if cap is not None and cap < moment.until else moment.until,
        moment.policy_name,
        moment.policy_digest,
    )
