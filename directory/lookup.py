"""The lookup: may this address receive information at this classification, and if not, why not.

1. Normalise the address (directory.address); a malformed one is a client error.
2. Match: the mailbox entry, else the domain-wide entry (unless excluded), else unknown.
3. Evaluate: derived trust, then the policy classification by classification.
4. Answer, with reasons for every classification refused.

Callers without detail rights for the organisation see a known-but-untrusted address exactly as
they see an unknown one, so the directory cannot be used to harvest pending applications.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from directory.address import Address, normalise
from directory.classification import Level
from directory.errors import malformed
from directory.evaluation import Evaluation, RecipientFacts, handling
from directory.model import Domain, RecipientKind, TrustLevel
from directory.policy import Policy
from directory.reasons import Reason, reason
from directory.snapshot import AnswerParts, Snapshot, SnapshotHolder
from directory.store.fastpath import LiveCertificate, MailboxRow
from directory.store.store import DirectoryStore

Clock = Callable[[], datetime]
# Given an organisation id, may this caller see details (pending, suspended, reasons)?
DetailRule = Callable[[str | None], bool]


def no_detail(_org_id: str | None) -> bool:
    return False


def all_detail(_org_id: str | None) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Moment:
    """The time an answer is given at, and its default expiry, with their text forms."""

    now: datetime
    checked_at: str
    until: datetime  # now + the policy's answer_valid_seconds
    until_text: str


class Lookup:
    def __init__(
        self,
        store: DirectoryStore,
        policy: Policy,
        clock: Clock,
        *,
        refresh_seconds: float = 1.0,
        batch_limit: int = 1000,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.batch_limit = batch_limit
        self.snapshots = SnapshotHolder(store, policy, refresh_seconds)
        self._unknown_reasons: dict[str | None, tuple[dict[str, str], ...]] = {}
        self._valid_for = timedelta(seconds=policy.answer_valid_seconds)

    def classification(self, name: str | None) -> Level | None:
        return self.policy.scheme.resolve(name) if name else None

    # --- public entry points --------------------------------------------------------------
    def lookup(
        self, address: str, classification: str | None = None, detail: DetailRule = no_detail
    ) -> dict[str, Any]:
        level = self.classification(classification)
        addr = normalise(address)
        snapshot = self.snapshots.current()
        domain = snapshot.domains.get(addr.domain)
        row = None
        if domain is not None:
            key = addr.without_subaddress(domain.subaddress_separator).text
            row = self.store.mailboxes.find_one(key)
        return self._answer(snapshot, addr, domain, row, level, detail, self._moment())

    def lookup_many(
        self,
        addresses: Sequence[str],
        classification: str | None = None,
        detail: DetailRule = no_detail,
    ) -> list[dict[str, Any]]:
        if len(addresses) > self.batch_limit:
            raise malformed(
                f"a batch holds at most {self.batch_limit} addresses, not {len(addresses)}",
                field="addresses",
            )
        level = self.classification(classification)
        parsed: list[Address] = []
        problems: list[dict[str, Any]] = []
        for index, raw in enumerate(addresses):
            try:
                parsed.append(normalise(raw))
            except Exception as exc:  # DirectoryError(malformed): report every bad one at once
                problems.append({"index": index, "detail": getattr(exc, "detail", str(exc))})
        if problems:
            raise malformed(
                f"{len(problems)} of {len(addresses)} addresses are not valid mailboxes",
                field="addresses",
                invalid=problems,
            )
        snapshot = self.snapshots.current()
        keys: list[str] = []
        domains: list[Domain | None] = []
        for addr in parsed:
            domain = snapshot.domains.get(addr.domain)
            domains.append(domain)
            keys.append(addr.without_subaddress(domain.subaddress_separator).text if domain else "")
        rows = self.store.mailboxes.find([k for k, d in zip(keys, domains, strict=True) if d])
        moment = self._moment()  # one time for the whole batch, formatted once
        return [
            self._answer(snapshot, addr, domain, rows.get(key), level, detail, moment)
            for addr, domain, key in zip(parsed, domains, keys, strict=True)
        ]

    # --- answers --------------------------------------------------------------------------
    def _answer(
        self,
        snapshot: Snapshot,
        addr: Address,
        domain: Domain | None,
        row: MailboxRow | None,
        level: Level | None,
        detail: DetailRule,
        moment: Moment,
    ) -> dict[str, Any]:
        now = moment.now
        if domain is None:
            return self._unknown(addr, level, moment, "recipient.unknown", detail(None))
        if row is not None:
            matched = RecipientKind.MAILBOX
            certificates = [c for c in row.certificates if c.not_before <= now < c.not_after]
            facts = RecipientFacts(
                row.role, row.mailbox_verified_at is not None, bool(certificates)
            )
            display_name = row.display_name
        else:
            entry = snapshot.domain_entries.get(domain.id)
            local = addr.without_subaddress(domain.subaddress_separator).local
            if entry is None:
                return self._unknown(
                    addr, level, moment, "recipient.unknown", detail(domain.organisation_id)
                )
            if local in entry.exclusions:
                return self._unknown(
                    addr, level, moment, "recipient.excluded", detail(domain.organisation_id)
                )
            matched, certificates, display_name = RecipientKind.DOMAIN, [], None
            facts = RecipientFacts("domain", False, False)
        evaluation = snapshot.evaluation(domain, facts, now)
        org = snapshot.organisations[domain.organisation_id]
        may_see = detail(org.id)
        if evaluation.trust.level is TrustLevel.NONE and not may_see:
            return self._unknown(addr, level, moment, None, False)
        parts = self._parts(snapshot, domain, facts, level, evaluation)
        valid_until = moment.until
        if evaluation.valid_until is not None and evaluation.valid_until < valid_until:
            valid_until = evaluation.valid_until
        if certificates:
            valid_until = min(valid_until, min(c.not_after for c in certificates))
        organisation = dict(parts.organisation)
        if display_name:
            organisation["recipient_name"] = display_name
        return {
            "address": addr.text,
            "known": True,
            "matched": matched.value,
            "trust_level": parts.trust_level,
            "max_classification": parts.max_classification,
            "classification": parts.classification,
            "permitted": parts.permitted,
            "organisation": organisation,
            "handling": dict(parts.handling),
            "certificates": [_certificate(c) for c in certificates],
            "reasons": list(parts.reasons),
            "checked_at": moment.checked_at,
            "valid_until": _text(valid_until, moment),
            "policy": dict(parts.policy),
        }

    def _moment(self) -> Moment:
        now = self.clock()
        until = now + self._valid_for
        return Moment(now, _stamp(now), until, _stamp(until))

    def _parts(
        self,
        snapshot: Snapshot,
        domain: Domain,
        facts: RecipientFacts,
        level: Level | None,
        evaluation: Evaluation,
    ) -> AnswerParts:
        """The part of a known answer that depends only on the evaluation and the level asked:
        memoised per snapshot, and rebuilt whenever the evaluation itself is renewed."""
        key = (domain.id, facts, level.rank if level else None)
        cached = snapshot.answer_parts.get(key)
        if cached is not None and cached.evaluation is evaluation:
            return cached
        policy = self.policy
        max_level = evaluation.max_level
        asked = level or max_level
        requirement = policy.requirement(asked) if asked is not None else None
        org = snapshot.organisations[domain.organisation_id]
        parts = AnswerParts(
            evaluation=evaluation,
            trust_level=evaluation.trust.level.label,
            max_classification=max_level.name if max_level else None,
            classification=level.name if level else None,
            permitted=_permitted(level, max_level),
            organisation={"id": org.id, "name": org.name, "sector": org.sector.value},
            handling=handling(requirement, domain.posture, facts.has_certificate),
            reasons=tuple(r.as_dict() for r in evaluation.reasons),
            policy={"name": policy.name, "digest": policy.digest},
        )
        snapshot.answer_parts[key] = parts
        return parts

    def _unknown(
        self,
        addr: Address,
        level: Level | None,
        moment: Moment,
        code: str | None,
        may_see: bool,
    ) -> dict[str, Any]:
        """The answer for anything untrusted. Without detail rights it is always the same."""
        detail_code = code if may_see and code else None
        reasons = self._unknown_reasons.get(detail_code)
        if reasons is None:
            reasons = tuple(r.as_dict() for r in self._unknown_list(detail_code))
            self._unknown_reasons[detail_code] = reasons
        return {
            "address": addr.text,
            "known": False,
            "matched": None,
            "trust_level": TrustLevel.NONE.label,
            "max_classification": None,
            "classification": level.name if level else None,
            "permitted": False if level else None,
            "organisation": None,
            "handling": None,
            "certificates": [],
            "reasons": list(reasons),
            "checked_at": moment.checked_at,
            "valid_until": moment.until_text,
            "policy": {"name": self.policy.name, "digest": self.policy.digest},
        }

    def _unknown_list(self, code: str | None) -> list[Reason]:
        out = []
        for requirement in self.policy.requirements:
            name = requirement.level.name
            if not requirement.permitted:
                out.append(reason("policy.secret-not-by-email", name))
            else:
                out.append(reason(code or "recipient.not-verified", name))
        return out


def _permitted(level: Level | None, max_level: Level | None) -> bool | None:
    if level is None:
        return None
    return max_level is not None and level.rank <= max_level.rank


def _certificate(cert: LiveCertificate) -> dict[str, str]:
    body = base64.encodebytes(cert.der).decode("ascii").replace("\n", "")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return {
        "serial": cert.serial,
        "not_after": _stamp(cert.not_after),
        "pem": f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n",
    }


def _text(when: datetime, moment: Moment) -> str:
    return moment.until_text if when == moment.until else _stamp(when)


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
