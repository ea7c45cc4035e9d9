"""The per-process register snapshot behind lookups, invalidated by the store's change sequence.

Organisations, domains, accreditations, sponsorships, domain-wide entries and API keys are small
(thousands) and are held in memory; derived trust and policy evaluations are memoised per domain
and recipient facts until the clock reaches their `valid_until`. Mailbox entries (millions) are
not held as such; answers are (AnswerCache, bounded), until the overall change sequence moves.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
from directory.store.store import DirectoryStore, RegisterData
from directory.trust import Trust, domain_trust, organisation_trust


@dataclass(frozen=True, slots=True)
class AnswerParts:
    """What a known answer takes from its evaluation and the level asked (see Lookup._parts)."""

    evaluation: Evaluation
    trust_level: str
    max_classification: str | None
    classification: str | None
    permitted: bool | None
    organisation: dict[str, str]
    handling: dict[str, str]
    reasons: tuple[dict[str, str], ...]
    policy: dict[str, str]


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


class AnswerCache:
    """Per-process answers by (address as given, classification as given), for one value of the
    store's overall change sequence `seq` (every write transaction bumps it: register records,
    mailbox entries, certificates). Cleared wholesale when the sequence moves or when full."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.seq: int | None = None
        self.entries: dict[tuple[str, str | None], Any] = {}
        self.hits = 0
        self.misses = 0

    def put(self, table: dict[tuple[str, str | None], Any], key: Any, entry: Any) -> None:
        """Store an answer computed while `table` was current. A table replaced meanwhile (the
        sequence moved) takes nothing: the answer may predate the change."""
        if self.max_entries <= 0 or table is not self.entries:
            return
        if len(table) >= self.max_entries:
            table = self.entries = {}  # wholesale: no per-entry bookkeeping on the hot path
        table[key] = entry

    def clear(self) -> None:
        self.entries = {}


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
    ) -> None:
        self.store = store
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self.answers = AnswerCache(answer_entries)
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        return self.current_with_answers()[0]

    def current_with_answers(self) -> tuple[Snapshot, dict[tuple[str, str | None], Any]]:
        """The snapshot and the answer table that goes with it. The table is read before the
        snapshot and replaced after it, so a caller holding the new table has the new snapshot;
        whatever it computes reads the store after the sequence the table stands for."""
        table = self.answers.entries
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked < self.refresh_seconds:
            return snapshot, table
        with self._lock:
            if (
                self._snapshot is not None
                and time.monotonic() - self._checked < self.refresh_seconds
            ):
                return self._snapshot, self.answers.entries
            # a store error propagates (UNAVAILABLE): no answer, cached or not, until it reads
            state = self.store.state()
            if self._snapshot is None or state.register_seq != self._snapshot.register_seq:
                self._snapshot = Snapshot.build(self.store.register_data(), self.policy)
            if state.seq != self.answers.seq:
                self.answers.clear()  # after the snapshot: see above
                self.answers.seq = state.seq
            self._checked = time.monotonic()
            return self._snapshot, self.answers.entries

    def invalidate(self) -> None:
        self._checked = 0.0
