"""The lookup's last match before "unknown": entries imported from federated directories.

Called by directory.lookup only when no local domain matches. The federated domain comes from
the register snapshot (domains of ACTIVE peers only); the mailbox entry is read from the store by
address. Evaluated with the LOCAL policy: trust = min(the peer's asserted level, the peer's
max_trust), the peer's posture as of its checked_at, mailbox_verified as listed, never a
certificate. A list past its valid_until counts for nothing, and no answer outlives the list.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from directory.address import Address
from directory.classification import Level
from directory.evaluation import Evaluation, RecipientFacts, evaluate
from directory.federation.records import FederatedDomain
from directory.model import Domain, Organisation, OrgStatus, Sector, TrustLevel
from directory.policy import Policy
from directory.store.federation import FederationStore
from directory.trust import Finding, Trust

if TYPE_CHECKING:
    from directory.lookup import Body, Lookup
    from directory.snapshot import Snapshot

MATCHED = "federated"


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


def federated_body(
    lookup: Lookup,
    snapshot: Snapshot,
    found: FederatedDomain,
    addr: Address,
    level: Level | None,
    may_see: bool,
    now: datetime,
) -> tuple[Body, bool]:
    """The answer body for an address of a federated domain, and whether every caller gets the
    same (known and trusted)."""
    from directory.lookup import _earliest, known_shape

    if now >= found.list_valid_until:
        return lookup._unknown(
            snapshot, addr, level, "federation.list-expired", may_see, None
        ), False
    # as the peer matches: its mailbox entries and exclusions name base addresses (no +tag)
    base = addr.without_subaddress(found.subaddress_separator)
    mailbox = lookup._read(FederationStore(lookup.store).mailbox, base.text)
    if mailbox is not None and mailbox.domain_id == found.id:
        facts = RecipientFacts(mailbox.role, mailbox.mailbox_verified, False)
    elif not found.domain_wide:
        return lookup._unknown(snapshot, addr, level, "recipient.unknown", may_see, None), False
    elif base.local in found.exclusions:
        return lookup._unknown(snapshot, addr, level, "recipient.excluded", may_see, None), False
    else:
        facts = RecipientFacts("domain", False, False)
    evaluation = evaluate_federated(lookup.policy, found, facts, now)
    if evaluation is None:
        return lookup._unknown(snapshot, addr, level, "recipient.unknown", may_see, None), False
    cap = _earliest(evaluation.valid_until, found.list_valid_until)
    trusted = evaluation.trust.level is not TrustLevel.NONE
    if not trusted and not may_see:
        return lookup._unknown(snapshot, addr, level, None, False, cap), False
    organisation = (
        ("id", found.organisation_id),
        ("name", found.organisation_name),
        ("sector", found.sector),
        ("directory", found.peer_name),
    )
    shape = known_shape(
        lookup.policy, evaluation, MATCHED, level, organisation, found.posture, facts
    )
    return (addr.text, snapshot.shape_id(shape), None, (), cap, cap), trusted
