"""The lookup's last match before "unknown": entries imported from federated directories.

Called by directory.lookup only when no local domain matches; it returns a `Match` or an
`Unmatched` value and the lookup renders it (this module knows nothing of the lookup's caches).
The federated domain comes from the register snapshot (domains of ACTIVE peers only); the mailbox
entry is read from the store by address, through the reader the lookup passes. Evaluated with
the LOCAL policy: trust = min(the peer's asserted level, the peer's max_trust), the peer's
posture as of its checked_at, mailbox_verified as listed, never a certificate. A list past its
valid_until counts for nothing, and no answer outlives the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from directory.address import Address
from directory.answer import AnswerOrganisation
from directory.classification import Level
from directory.evaluation import Evaluation, RecipientFacts, evaluate
from directory.federation.records import FederatedDomain, FederatedMailbox
from directory.model import Domain, Organisation, OrgStatus, Posture, Sector, TrustLevel
from directory.policy import Policy
from directory.trust import Finding, Trust


def federated_trust(found: FederatedDomain, policy: Policy) -> Trust | None:
    """The trust this directory grants a federated entry; None when its ceiling is unknown to
    the local classification scheme (fail closed: the caller answers unknown)."""
    asserted, cap = found.trust_level, found.peer_max_trust
    ceiling: Level | None = None
    if found.ceiling is not None:
        ceiling = policy.scheme.find(found.ceiling)
        if ceiling is None:
            return None
    findings: list[Finding] = []
    if asserted < TrustLevel.ACCREDITED:
        detail = f"{found.peer_name} asserts {asserted.label}"
        findings.append(Finding("federation.asserted-trust", detail, TrustLevel(asserted + 1)))
    level = min(asserted, cap)
    if cap < asserted:
        detail = f"{found.peer_name} is granted at most {cap.label}"
        findings.append(Finding("federation.capped-by-peer", detail, TrustLevel(cap + 1)))
    return Trust(TrustLevel(level), ceiling, tuple(findings), found.list_valid_until)


def evaluate_federated(
    policy: Policy, found: FederatedDomain, facts: RecipientFacts, now: datetime
) -> Evaluation | None:
    trust = federated_trust(found, policy)
    if trust is None:
        return None
    try:
        sector = Sector(found.sector)
    except ValueError:  # checked on import; a later local change of sectors fails closed
        return None
    org = Organisation(
        id=found.organisation_id,
        name=found.organisation_name,
        sector=sector,
        status=OrgStatus.ACTIVE,
        identifiers={},
        vetted_at=None,
        vetting_evidence=None,
        review_required=None,
    )
    domain = Domain(
        id=found.id,
        organisation_id=found.organisation_id,
        name=found.domain,
        verified_at=None,
        verification_method=None,
        verification_evidence=None,
        posture=found.posture,
        subaddress_separator=found.subaddress_separator,
    )
    return evaluate(policy, org, domain, trust, facts, now)


@dataclass(frozen=True, slots=True)
class Unmatched:
    """No federated entry counts for the address: answer unknown, with this reason code for
    callers with detail rights."""

    code: str


@dataclass(frozen=True, slots=True)
class Match:
    """A federated entry for the address, evaluated under the local policy."""

    evaluation: Evaluation
    facts: RecipientFacts
    organisation: AnswerOrganisation  # its directory: the peer that listed it
    posture: Posture | None
    valid_until: datetime | None  # no answer outlives the evaluation or the peer's list
    trusted: bool


def match_federated(
    policy: Policy,
    found: FederatedDomain,
    addr: Address,
    now: datetime,
    read_mailbox: Callable[[str], FederatedMailbox | None],
) -> Match | Unmatched:
    """How a federated domain's entries answer for `addr` (the lookup renders the result).
    `read_mailbox` reads a federated mailbox entry by base address from the store."""
    if now >= found.list_valid_until:
        return Unmatched("federation.list-expired")
    # as the peer matches: its mailbox entries and exclusions name base addresses (no +tag)
    base = addr.without_subaddress(found.subaddress_separator)
    mailbox = read_mailbox(base.text)
    if mailbox is not None and mailbox.domain_id == found.id:
        facts = RecipientFacts(mailbox.role, mailbox.mailbox_verified, False)
    elif not found.domain_wide:
        return Unmatched("recipient.unknown")
    elif base.local in found.exclusions:
        return Unmatched("recipient.excluded")
    else:
        facts = RecipientFacts("domain", False, False)
    evaluation = evaluate_federated(policy, found, facts, now)
    if evaluation is None:
        return Unmatched("recipient.unknown")
    valid_until = evaluation.valid_until
    if valid_until is None or found.list_valid_until < valid_until:
        valid_until = found.list_valid_until
    organisation = AnswerOrganisation(
        found.organisation_id, found.organisation_name, Sector(found.sector), found.peer_name
    )
    trusted = evaluation.trust.level is not TrustLevel.NONE
    return Match(evaluation, facts, organisation, found.posture, valid_until, trusted)
