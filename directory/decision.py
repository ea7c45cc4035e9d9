"""The lookup's decision as one pure function: `decide` takes the register's facts, the mailbox
entry, a federated match, the level asked, the caller's detail rights and the clock, and returns
a frozen, typed `Answer` (datetimes, DER, enums; no JSON). It reads no store and keeps no cache:
directory/lookup.py reads its inputs and caches its answers, and the differential tests compare
what the caches give with what `decide` says.

1. Match: the mailbox entry, else the domain-wide entry (unless excluded), else the federated
   match the caller made (directory/federation/match.py), else unknown.
2. Evaluate: derived trust (directory/trust.py), then the policy classification by
   classification (directory/evaluation.py).
3. Answer, with a reason for every classification refused. A caller without detail rights for
   the organisation sees a known but untrusted address exactly as it sees an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from directory.address import Address
from directory.answer import Answer, AnswerOrganisation, Matched, Verdict
from directory.classification import Level
from directory.evaluation import Evaluation, RecipientFacts, evaluate, handling
from directory.federation.match import Match, Unmatched
from directory.model import (
    Accreditation,
    Domain,
    Organisation,
    Posture,
    Recipient,
    Sponsorship,
    TrustLevel,
)
from directory.policy import Policy
from directory.reasons import reason
from directory.store.fastpath import LiveCertificate, MailboxRow
from directory.trust import domain_trust, organisation_trust

# Given an organisation id, may this caller see details (pending, suspended, reasons)?
DetailRule = Callable[[str | None], bool]


class Register(Protocol):
    """The register facts a decision reads (directory/snapshot.py Snapshot has them)."""

    @property
    def organisations(self) -> Mapping[str, Organisation]: ...
    @property
    def domains(self) -> Mapping[str, Domain]: ...  # by name
    @property
    def domain_entries(self) -> Mapping[str, Recipient]: ...  # by domain id
    @property
    def accreditations(self) -> Mapping[str, list[Accreditation]]: ...  # by organisation id
    @property
    def sponsorships(self) -> Mapping[str, list[Sponsorship]]: ...  # by sponsored id


def decide(
    policy: Policy,
    register: Register,
    addr: Address,
    level: Level | None,
    detail: DetailRule,
    now: datetime,
    *,
    mailbox: MailboxRow | None = None,
    federated: Match | Unmatched | None = None,
) -> Answer:
    """The answer for `addr` at `now`. `mailbox` is the entry stored for the address's base
    (without a sub-address) when its domain is local; `federated` is the federated match when
    its domain is not local but a peer lists it."""
    verdict, name, certificates, cap = _verdict(
        policy, register, addr, level, detail, now, mailbox, federated
    )
    checked_at = now.replace(microsecond=0)
    until = checked_at + timedelta(seconds=policy.answer_valid_seconds)
    valid_until = cap if cap is not None and cap < until else until
    return Answer(
        addr.text, verdict, name, certificates, checked_at, valid_until, policy.name, policy.digest
    )


Decided = tuple[Verdict, str | None, tuple[LiveCertificate, ...], datetime | None]


def _verdict(
    policy: Policy,
    register: Register,
    addr: Address,
    level: Level | None,
    detail: DetailRule,
    now: datetime,
    mailbox: MailboxRow | None,
    federated: Match | Unmatched | None,
) -> Decided:
    domain = register.domains.get(addr.domain)
    if domain is None:
        return _federated(policy, level, detail(None), federated)
    may_see = detail(domain.organisation_id)
    certificates: tuple[LiveCertificate, ...] = ()
    if mailbox is not None:
        matched, name = Matched.MAILBOX, mailbox.display_name or None
        certificates = tuple(c for c in mailbox.certificates if c.not_before <= now < c.not_after)
        facts = RecipientFacts(mailbox.role, mailbox.mailbox_verified, bool(certificates))
    else:
        entry = register.domain_entries.get(domain.id)
        if entry is None:
            return unknown(policy, level, "recipient.unknown" if may_see else None), None, (), None
        local = addr.without_subaddress(domain.subaddress_separator).local
        if local in entry.exclusions:
            return unknown(policy, level, "recipient.excluded" if may_see else None), None, (), None
        matched, name = Matched.DOMAIN, None
        facts = RecipientFacts("domain", False, False)
    org = register.organisations[domain.organisation_id]
    sponsorships = register.sponsorships.get(org.id, ())
    own = organisation_trust(
        org, register.accreditations, sponsorships, register.organisations, policy, now
    )
    evaluation = evaluate(policy, org, domain, domain_trust(own, domain, policy, now), facts, now)
    if evaluation.trust.level is TrustLevel.NONE and not may_see:
        return unknown(policy, level, None), None, (), None
    organisation = AnswerOrganisation(org.id, org.name, org.sector)
    verdict = known(policy, evaluation, matched, level, organisation, domain.posture, facts)
    cap = _earliest([evaluation.valid_until, *(c.not_after for c in certificates)])
    return verdict, name, certificates, cap


def _federated(
    policy: Policy, level: Level | None, may_see: bool, found: Match | Unmatched | None
) -> Decided:
    if found is None:
        return unknown(policy, level, "recipient.unknown" if may_see else None), None, (), None
    if isinstance(found, Unmatched):
        return unknown(policy, level, found.code if may_see else None), None, (), None
    if not found.trusted and not may_see:
        return unknown(policy, level, None), None, (), None
    verdict = known(
        policy,
        found.evaluation,
        Matched.FEDERATED,
        level,
        found.organisation,
        found.posture,
        found.facts,
    )
    return verdict, None, (), found.valid_until


def known(
    policy: Policy,
    evaluation: Evaluation,
    matched: Matched,
    level: Level | None,
    organisation: AnswerOrganisation,
    posture: Posture | None,
    facts: RecipientFacts,
) -> Verdict:
    """The verdict for a known recipient with this evaluation, asked at `level`."""
    top = evaluation.max_level
    asked = level or top
    requirement = policy.requirement(asked) if asked is not None else None
    return Verdict(
        True,
        matched,
        evaluation.trust.level,
        top,
        level,
        None if level is None else top is not None and level.rank <= top.rank,
        organisation,
        handling(requirement, posture, facts.has_certificate),
        evaluation.reasons,
    )


def unknown(policy: Policy, level: Level | None, code: str | None) -> Verdict:
    """The verdict for anything untrusted: `code` is the reason shown to a caller with detail
    rights (None: "recipient.not-verified", all a caller without them ever sees)."""
    reasons = tuple(
        reason(
            (code or "recipient.not-verified") if r.permitted else "policy.secret-not-by-email",
            r.level.name,
        )
        for r in policy.requirements
    )
    permitted = False if level is not None else None
    return Verdict(False, None, TrustLevel.NONE, None, level, permitted, None, None, reasons)


def _earliest(values: Iterable[datetime | None]) -> datetime | None:
    present: Sequence[datetime] = [v for v in values if v is not None]
    return min(present) if present else None
