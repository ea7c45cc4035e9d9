"""The lookup's answer as typed, frozen values (directory/decision.py decides them,
directory/answer_json.py renders them): datetimes, DER and enums, no JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from directory.classification import Level
from directory.evaluation import Handling
from directory.model import Sector, TrustLevel
from directory.reasons import Reason
from directory.store.fastpath import LiveCertificate


class Matched(StrEnum):
    MAILBOX = "mailbox"
    DOMAIN = "domain"  # the domain-wide entry
    FEDERATED = "federated"  # an entry imported from a federated directory


@dataclass(frozen=True, slots=True)
class AnswerOrganisation:
    id: str
    name: str
    sector: Sector
    directory: str | None = None  # the federated peer that listed it; None when local


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an answer says apart from whom it is for and when: the same for every address with
    the same evaluation, so caches share one (and its rendering) among many answers."""

    known: bool
    matched: Matched | None
    trust_level: TrustLevel
    max_classification: Level | None
    classification: Level | None  # the level asked, or None
    permitted: bool | None  # None when no level was asked
    organisation: AnswerOrganisation | None
    handling: Handling | None
    reasons: tuple[Reason, ...]  # one at least for every classification refused


class Answer(NamedTuple):
    """One answer. A named tuple rather than a dataclass: made for every answer a cache gives,
    where a frozen dataclass costs three times as much to build (bench: docs/performance.md)."""

    address: str  # normalised
    verdict: Verdict
    recipient_name: str | None
    certificates: tuple[LiveCertificate, ...]  # live at checked_at
    checked_at: datetime  # the whole second it was given in
    valid_until: datetime  # a caller may rely on it until then, never past a change it foresees
    policy_name: str
    policy_digest: str

    @property
    def permitted(self) -> bool | None:
        return self.verdict.permitted

    @property
    def trust_level(self) -> TrustLevel:
        return self.verdict.trust_level
