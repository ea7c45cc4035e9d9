"""The per-process register snapshot behind lookups, invalidated by the store's change sequence.

Organisations, domains, accreditations, sponsorships, domain-wide entries and API keys are small
(thousands) and are held in memory; derived trust and policy evaluations are memoised per domain
and recipient facts until the clock reaches their `valid_until`. Mailbox entries (millions) are
not held as such; answers are (AnswerCache, bounded), until the overall change sequence moves.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from directory.answer import Verdict
from directory.answer_json import verdict_json
from directory.evaluation import Evaluation, RecipientFacts, evaluate
from directory.federation.records import FederatedDomain
from directory.model import (
    Accreditation,
    ApiKey,
    Domain,
    Organisation,
    Recipient,
    Sponsorship,
)
from directory.policy import Policy
from directory.readonly import ReadOnlyDict, ReadOnlyList
from directory.store.store import DirectoryStore, RegisterData
from directory.trust import Trust, domain_trust, organisation_trust

# A monotonic clock in seconds (time.monotonic). Its origin is unspecified (on Linux, the boot):
# code compares two readings and never a reading with a constant; tests inject one that starts
# near zero, as on a freshly booted host.
Ticks = Callable[[], float]


@dataclass(frozen=True, slots=True)
class AnswerParts:
    """A known answer's shape for an evaluation and the level asked (see Lookup._parts)."""

    evaluation: Evaluation
    shape: int  # its number: index in Snapshot.rendered


@dataclass
class Snapshot:
    register_seq: int
    policy: Policy
    organisations: dict[str, Organisation]
    domains: dict[str, Domain]  # by name
    domain_entries: dict[str, Recipient]  # by domain id
    accreditations: dict[str, list[Accreditation]]
    sponsorships: dict[str, list[Sponsorship]]  # by sponsored organisation id
    api_keys: dict[str, ApiKey]  # by key hash
    federated: dict[str, FederatedDomain] = field(default_factory=dict)  # by domain name
    _trust: dict[str, tuple[Trust, datetime]] = field(default_factory=dict)
    # (evaluation, when to renew it, the same or None for never)
    _evaluations: dict[tuple[str, RecipientFacts], tuple[Evaluation, datetime, datetime | None]] = (
        field(default_factory=dict)
    )
    _instants: dict[str, tuple[datetime, ...]] = field(default_factory=dict)
    # by (domain id, facts, rank asked): bounded by domains x facts x levels
    answer_parts: dict[tuple[str, RecipientFacts, int | None], AnswerParts] = field(
        default_factory=dict
    )
    # every distinct verdict (directory/answer.py), numbered (cached answers name theirs by
    # number), as the answer it renders to without its address, certificates and time stamps
    rendered: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)  # the same, by number
    _shape_ids: dict[Verdict, int] = field(default_factory=dict)  # verdict -> its number
    # by (reason code shown, rank asked): the number of an untrusted answer's shape
    unknown_shapes: dict[tuple[str | None, int | None], int] = field(default_factory=dict)

    def shape_id(self, shape: Verdict) -> int:
        found = self._shape_ids.get(shape)
        if found is None:
            with _SHAPES_LOCK:
                found = self._shape_ids.get(shape)
                if found is None:
                    self.rendered.append(_rendered(shape, self.policy))
                    self.verdicts.append(shape)
                    found = self._shape_ids[shape] = len(self.rendered) - 1
        return found

    @classmethod
    def build(cls, data: RegisterData, policy: Policy) -> Snapshot:
        accreditations: dict[str, list[Accreditation]] = defaultdict(list)
        for a in data.accreditations:
            accreditations[a.organisation_id].append(a)
        sponsorships: dict[str, list[Sponsorship]] = defaultdict(list)
        for s in data.sponsorships:
            sponsorships[s.sponsored_id].append(s)
        return cls(
            register_seq=data.state.register_seq,
            policy=policy,
            organisations={o.id: o for o in data.organisations},
            domains={d.name: d for d in data.domains},
            domain_entries={r.domain_id: r for r in data.domain_entries},
            accreditations=dict(accreditations),
            sponsorships=dict(sponsorships),
            api_keys=data.api_keys,
            federated={f.domain: f for f in data.federated_domains},
        )

    def trust(self, org: Organisation, now: datetime) -> Trust:
        cached = self._trust.get(org.id)
        if cached is not None and now < cached[1]:
            return cached[0]
        trust = organisation_trust(
            org,
            self.accreditations,
            self.sponsorships.get(org.id, ()),
            self.organisations,
            self.policy,
            now,
        )
        until = _earliest(trust.valid_until, _next(self._org_instants(org.id), now))
        self._trust[org.id] = (trust, until or _NEVER)
        return trust

    def evaluation(self, domain: Domain, facts: RecipientFacts, now: datetime) -> Evaluation:
        return self.evaluation_until(domain, facts, now)[0]

    def evaluation_until(
        self, domain: Domain, facts: RecipientFacts, now: datetime
    ) -> tuple[Evaluation, datetime | None]:
        """The evaluation, and the earliest instant it may change by the clock alone: its own
        `valid_until`, or sooner the next instant any date it derives from passes (domain
        verification and posture ageing, accreditations and sponsorships starting or ending,
        the sponsor's accreditations), whichever comes first. Conservative on purpose: an
        evaluation is renewed at every such instant even if its `valid_until` missed one."""
        key = (domain.id, facts)
        cached = self._evaluations.get(key)
        if cached is not None and now < cached[1]:
            return cached[0], cached[2]
        org = self.organisations[domain.organisation_id]
        trust = domain_trust(self.trust(org, now), domain, self.policy, now)
        result = evaluate(self.policy, org, domain, trust, facts, now)
        until = _earliest(result.valid_until, _next(self._domain_instants(domain), now))
        self._evaluations[key] = (result, until or _NEVER, until)
        return result, until

    def _org_instants(self, org_id: str) -> tuple[datetime, ...]:
        found = self._instants.get(org_id)
        if found is None:
            instants: list[datetime] = []
            orgs = {org_id}
            for s in self.sponsorships.get(org_id, ()):
                instants += (s.valid_from, s.expires)
                orgs.add(s.sponsor_id)
            for o in orgs:
                for a in self.accreditations.get(o, ()):
                    instants += (a.valid_from, a.expires)
            found = self._instants[org_id] = tuple(sorted(instants))
        return found

    def _domain_instants(self, domain: Domain) -> tuple[datetime, ...]:
        key = "domain:" + domain.id
        found = self._instants.get(key)
        if found is None:
            instants = list(self._org_instants(domain.organisation_id))
            if domain.verified_at is not None:
                age = timedelta(days=self.policy.domain_verification_max_age_days)
                instants.append(domain.verified_at + age)
            if domain.posture is not None:
                age = timedelta(days=self.policy.posture_max_age_days)
                instants.append(domain.posture.checked_at + age)
            found = self._instants[key] = tuple(sorted(instants))
        return found


_NEVER = datetime.max.replace(tzinfo=UTC)


def _rendered(verdict: Verdict, policy: Policy) -> dict[str, Any]:
    """A verdict as the answer dict it becomes (directory/answer_json.py), in the answer's key
    order: Lookup copies it and fills in the address, certificates and time stamps. Its nested
    dicts and lists are shared by every answer of the verdict, and read-only
    (directory/readonly.py)."""
    out = verdict_json(verdict)
    for key in ("organisation", "handling"):
        if out[key] is not None:
            out[key] = ReadOnlyDict(out[key])
    out["reasons"] = ReadOnlyList(ReadOnlyDict(r) for r in out["reasons"])
    out["policy"] = ReadOnlyDict(name=policy.name, digest=policy.digest)
    return out


_SHAPES_LOCK = threading.Lock()


def _next(instants: tuple[datetime, ...], now: datetime) -> datetime | None:
    """The first of the sorted instants after now."""
    i = bisect_right(instants, now)
    return instants[i] if i < len(instants) else None


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


# Cached answers by (address as given, classification as given)
Table = dict[tuple[str, str | None], Any]


class AnswerCache:
    """Per-process answers for one value of the store's overall change sequence `seq` (every
    write transaction bumps it: register records, mailbox entries, certificates), held with the
    snapshot they were worked out from as one pair, so that a reader always has the table and
    the snapshot that go together. Replaced by an empty table when the sequence moves, when the
    store fails or when full."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.seq: int | None = None
        self.pair: tuple[Snapshot, Table] | None = None
        self.hits = 0
        self.misses = 0

    @property
    def entries(self) -> Table:
        return self.pair[1] if self.pair is not None else {}

    def put(self, table: Table, key: tuple[str, str | None], entry: Any) -> None:
        """Store an answer computed while `table` was current. A table replaced meanwhile (the
        sequence moved) takes nothing: the answer may predate the change."""
        pair = self.pair
        if self.max_entries <= 0 or pair is None or table is not pair[1]:
            return
        if len(table) >= self.max_entries:
            table = {}  # wholesale: no per-entry bookkeeping on the hot path
            self.pair = (pair[0], table)
        table[key] = entry

    def clear(self) -> None:
        pair = self.pair
        if pair is not None:
            self.pair = (pair[0], {})


class SnapshotHolder:
    """Keeps one process's snapshot and answer cache current: checks the change sequence at most
    every `refresh_seconds`, rebuilds the snapshot when register-level records changed and drops
    every cached answer when anything changed."""

    def __init__(
        self,
        store: DirectoryStore,
        policy: Policy,
        refresh_seconds: float,
        answer_entries: int = 200_000,
        ticks: Ticks = time.monotonic,
    ) -> None:
        self.store = store
        self.ticks = ticks
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self.answers = AnswerCache(answer_entries)
        self._snapshot: Snapshot | None = None
        self._checked = -math.inf  # never: older than any reading of any monotonic clock
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        return self.current_with_answers()[0]

    def current_with_answers(self) -> tuple[Snapshot, Table]:
        """The snapshot and the answer table that goes with it, read as one pair: whatever a
        caller computes from it reads the store after the sequence the table stands for."""
        pair = self.answers.pair
        if pair is not None and self.ticks() - self._checked < self.refresh_seconds:
            return pair
        with self._lock:
            pair = self.answers.pair
            if pair is not None and self.ticks() - self._checked < self.refresh_seconds:
                return pair
            # a store error propagates (UNAVAILABLE): no answer, cached or not, until it reads
            state = self.store.state()
            # mailbox reads from here on start after that state (before any table for it is
            # handed out: an answer cached under a sequence never predates it)
            self.store.mailboxes.renew(state.seq)
            snapshot = self._snapshot
            if snapshot is None or state.register_seq != snapshot.register_seq:
                snapshot = self._snapshot = Snapshot.build(self.store.register_data(), self.policy)
            if pair is None or pair[0] is not snapshot or state.seq != self.answers.seq:
                pair = self.answers.pair = (snapshot, {})
                self.answers.seq = state.seq
            self._checked = self.ticks()
            return pair

    def fresh(self) -> tuple[Snapshot, Table] | None:
        """The pair `current_with_answers` would give without reading the store, or None when
        the change sequence is due to be read (for callers that must not read the store here,
        such as an event loop's thread)."""
        pair = self.answers.pair
        if pair is not None and self.ticks() - self._checked < self.refresh_seconds:
            return pair
        return None

    def invalidate(self) -> None:
        """The next read checks the change sequence, however soon it comes."""
        self._checked = -math.inf
