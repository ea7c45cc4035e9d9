"""The per-process register snapshot behind lookups, invalidated by the store's change sequence.

Organisations, domains, accreditations, sponsorships, domain-wide entries and API keys are small
(thousands) and are held in memory; derived trust and policy evaluations are memoised per domain
and recipient facts until the clock reaches their `valid_until`. Mailbox entries (millions) are
not held: they are read live from the store on every lookup.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from directory.evaluation import Evaluation, RecipientFacts, evaluate
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
    _trust: dict[str, Trust] = field(default_factory=dict)
    _evaluations: dict[tuple[str, RecipientFacts], Evaluation] = field(default_factory=dict)
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
        )

    def trust(self, org: Organisation, now: datetime) -> Trust:
        cached = self._trust.get(org.id)
        if cached is not None and (cached.valid_until is None or now < cached.valid_until):
            return cached
        trust = organisation_trust(
            org,
            self.accreditations,
            self.sponsorships.get(org.id, ()),
            self.organisations,
            self.policy,
            now,
        )
        self._trust[org.id] = trust
        return trust

    def evaluation(self, domain: Domain, facts: RecipientFacts, now: datetime) -> Evaluation:
        key = (domain.id, facts)
        cached = self._evaluations.get(key)
        if cached is not None and (cached.valid_until is None or now < cached.valid_until):
            return cached
        org = self.organisations[domain.organisation_id]
        trust = domain_trust(self.trust(org, now), domain, self.policy, now)
        result = evaluate(self.policy, org, domain, trust, facts, now)
        self._evaluations[key] = result
        return result


class SnapshotHolder:
    """Keeps one process's snapshot current: checks the change sequence at most every
    `refresh_seconds`, rebuilds when register-level records changed."""

    def __init__(self, store: DirectoryStore, policy: Policy, refresh_seconds: float) -> None:
        self.store = store
        self.policy = policy
        self.refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        snapshot = self._snapshot
        now = time.monotonic()
        if snapshot is not None and now - self._checked < self.refresh_seconds:
            return snapshot
        with self._lock:
            if (
                self._snapshot is not None
                and time.monotonic() - self._checked < self.refresh_seconds
            ):
                return self._snapshot
            state = self.store.state()
            if self._snapshot is None or state.register_seq != self._snapshot.register_seq:
                self._snapshot = Snapshot.build(self.store.register_data(), self.policy)
            self._checked = time.monotonic()
            return self._snapshot

    def invalidate(self) -> None:
        self._checked = 0.0
