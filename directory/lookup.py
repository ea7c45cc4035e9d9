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

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from directory.address import Address, normalise
from directory.classification import Level
from directory.errors import malformed
from directory.evaluation import Evaluation, RecipientFacts, handling
from directory.federation.match import federated_body
from directory.model import Domain, RecipientKind, TrustLevel
from directory.policy import Policy
from directory.reasons import Reason, reason
from directory.snapshot import AnswerParts, Snapshot, SnapshotHolder
from directory.store.fastpath import LiveCertificate, MailboxRow
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
    """The time an answer is given at, and its default expiry, with their text forms."""

    now: datetime
    checked_at: str
    until: datetime  # now + the policy's answer_valid_seconds
    until_text: str


@dataclass(slots=True)
class Body:
    """An answer without its two time stamps (`checked_at`, `valid_until`), as cached.

    Its dicts are shared between answers and never handed out: `_render` copies them. Not
    frozen only because a frozen dataclass is slow to make; nothing changes one once made."""

    address: str
    known: bool
    matched: str | None
    trust_level: str
    max_classification: str | None
    classification: str | None
    permitted: bool | None
    organisation: dict[str, str] | None
    handling: dict[str, str] | None
    certificates: tuple[dict[str, str], ...]
    reasons: tuple[dict[str, str], ...]
    policy: dict[str, str]
    cap: datetime | None  # valid_until is at most this (the evaluation's, a certificate's end)
    stale_at: datetime | None  # from here on the clock alone may change the content


# A cached address: [organisation id whose detail rights decide, body without, body with detail]
Entry = list[Any]


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
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.batch_limit = batch_limit
        # refresh 0 means every lookup reads the store: then no answer is cached at all
        entries = answer_cache_entries if refresh_seconds > 0 else 0
        self.snapshots = SnapshotHolder(store, policy, refresh_seconds, entries)
        self.answers = self.snapshots.answers
        self._unknown_reasons: dict[str | None, tuple[dict[str, str], ...]] = {}
        self._policy_dict = {"name": policy.name, "digest": policy.digest}
        self._valid_for = timedelta(seconds=policy.answer_valid_seconds)

    def classification(self, name: str | None) -> Level | None:
        return self.policy.scheme.resolve(name) if name else None

    # --- public entry points --------------------------------------------------------------
    def lookup(
        self, address: str, classification: str | None = None, detail: DetailRule = no_detail
    ) -> dict[str, Any]:
        snapshot, table = self.snapshots.current_with_answers()
        moment = self._moment()
        key = (address, classification)
        entry = table.get(key)
        if entry is not None:
            body = entry[2 if detail(entry[0]) else 1]
            if body is not None and (body.stale_at is None or moment.now < body.stale_at):
                self.answers.hits += 1
                return _render(body, moment)
        self.answers.misses += 1
        level = self.classification(classification)
        addr = normalise(address)
        domain = snapshot.domains.get(addr.domain)
        row = None
        if domain is not None:
            row = self._read(
                self.store.mailboxes.find_one,
                addr.without_subaddress(domain.subaddress_separator).text,
            )
        body = self._remember(table, key, entry, snapshot, addr, domain, row, level, detail, moment)
        return _render(body, moment)

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
        snapshot, table = self.snapshots.current_with_answers()
        moment = self._moment()  # one time for the whole batch, formatted once
        bodies: list[Body | None] = [None] * len(addresses)
        misses: list[tuple[int, Entry | None]] = []
        now = moment.now
        for index, raw in enumerate(addresses):
            entry = table.get((raw, classification))
            if entry is not None:
                body = entry[2 if detail(entry[0]) else 1]
                if body is not None and (body.stale_at is None or now < body.stale_at):
                    bodies[index] = body
                    continue
            misses.append((index, entry))
        self.answers.hits += len(addresses) - len(misses)
        self.answers.misses += len(misses)
        if misses:
            self._fill(
                bodies, misses, addresses, classification, snapshot, table, level, detail, moment
            )
        return [_render(body, moment) for body in bodies]  # type: ignore[arg-type]

    def _fill(
        self,
        bodies: list[Body | None],
        misses: list[tuple[int, Entry | None]],
        addresses: Sequence[str],
        classification: str | None,
        snapshot: Snapshot,
        table: dict[tuple[str, str | None], Any],
        level: Level | None,
        detail: DetailRule,
        moment: Moment,
    ) -> None:
        """Answer the addresses not in the cache, with one query for their mailbox entries."""
        parsed: list[Address] = []
        problems: list[dict[str, Any]] = []
        for index, _entry in misses:
            try:
                parsed.append(normalise(addresses[index]))
            except Exception as exc:  # DirectoryError(malformed): report every bad one at once
                problems.append({"index": index, "detail": getattr(exc, "detail", str(exc))})
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
            keys.append(addr.without_subaddress(domain.subaddress_separator).text if domain else "")
        rows = self._read(
            self.store.mailboxes.find, [k for k, d in zip(keys, domains, strict=True) if d]
        )
        for (index, entry), addr, domain, key in zip(misses, parsed, domains, keys, strict=True):
            bodies[index] = self._remember(
                table,
                (addresses[index], classification),
                entry,
                snapshot,
                addr,
                domain,
                rows.get(key),
                level,
                detail,
                moment,
            )

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

    # --- answers --------------------------------------------------------------------------
    def _remember(
        self,
        table: dict[tuple[str, str | None], Any],
        key: tuple[str, str | None],
        entry: Entry | None,
        snapshot: Snapshot,
        addr: Address,
        domain: Domain | None,
        row: MailboxRow | None,
        level: Level | None,
        detail: DetailRule,
        moment: Moment,
    ) -> Body:
        """Work out an answer's body and cache it under the table it was computed for."""
        org_id = domain.organisation_id if domain is not None else None
        may_see = bool(detail(org_id))
        body = self._body(snapshot, addr, domain, row, level, may_see, moment.now)
        if entry is None or entry[0] != org_id:
            entry = [org_id, None, None]
            self.answers.put(table, key, entry)
        if body.known and body.trust_level != _NONE:
            entry[1] = entry[2] = body  # the same whoever asks
        else:
            entry[2 if may_see else 1] = body
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
    ) -> Body:
        if domain is None:
            federated = snapshot.federated.get(addr.domain)  # else entries of federated peers
            if federated is not None:
                return federated_body(self, federated, addr, level, may_see, now)
            return self._unknown(addr, level, "recipient.unknown", may_see, None)
        stale_at: datetime | None = None
        if row is not None:
            matched = RecipientKind.MAILBOX
            certificates = []
            for c in row.certificates:
                if c.not_before <= now < c.not_after:
                    certificates.append(c)
                elif now < c.not_before:  # becomes live later: the answer changes then
                    stale_at = _earliest(stale_at, c.not_before)
            facts = RecipientFacts(
                row.role, row.mailbox_verified_at is not None, bool(certificates)
            )
            display_name = row.display_name
        else:
            entry = snapshot.domain_entries.get(domain.id)
            local = addr.without_subaddress(domain.subaddress_separator).local
            if entry is None:
                return self._unknown(addr, level, "recipient.unknown", may_see, None)
            if local in entry.exclusions:
                return self._unknown(addr, level, "recipient.excluded", may_see, None)
            matched, certificates, display_name = RecipientKind.DOMAIN, [], None
            facts = RecipientFacts("domain", False, False)
        evaluation, renew_at = snapshot.evaluation_until(domain, facts, now)
        stale_at = _earliest(stale_at, renew_at)
        if evaluation.trust.level is TrustLevel.NONE and not may_see:
            return self._unknown(addr, level, None, False, stale_at)
        parts = self._parts(snapshot, domain, facts, level, evaluation)
        cap = evaluation.valid_until
        for c in certificates:
            cap = _earliest(cap, c.not_after)
        organisation = parts.organisation
        if display_name:
            organisation = {**organisation, "recipient_name": display_name}
        return Body(
            address=addr.text,
            known=True,
            matched=matched.value,
            trust_level=parts.trust_level,
            max_classification=parts.max_classification,
            classification=parts.classification,
            permitted=parts.permitted,
            organisation=organisation,
            handling=parts.handling,
            certificates=tuple(_certificate(c) for c in certificates),
            reasons=parts.reasons,
            policy=parts.policy,
            cap=cap,
            stale_at=_earliest(stale_at, cap),
        )

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
        code: str | None,
        may_see: bool,
        stale_at: datetime | None,
    ) -> Body:
        """The answer for anything untrusted. Without detail rights it is always the same."""
        detail_code = code if may_see and code else None
        reasons = self._unknown_reasons.get(detail_code)
        if reasons is None:
            reasons = tuple(r.as_dict() for r in self._unknown_list(detail_code))
            self._unknown_reasons[detail_code] = reasons
        return Body(
            address=addr.text,
            known=False,
            matched=None,
            trust_level=_NONE,
            max_classification=None,
            classification=level.name if level else None,
            permitted=False if level else None,
            organisation=None,
            handling=None,
            certificates=(),
            reasons=reasons,
            policy=self._policy_dict,
            cap=None,
            stale_at=stale_at,
        )

    def _unknown_list(self, code: str | None) -> list[Reason]:
        out = []
        for requirement in self.policy.requirements:
            name = requirement.level.name
            if not requirement.permitted:
                out.append(reason("policy.secret-not-by-email", name))
            else:
                out.append(reason(code or "recipient.not-verified", name))
        return out


def _render(body: Body, moment: Moment) -> dict[str, Any]:
    """The answer: the body (shared parts copied) and the time stamps of this moment."""
    cap = body.cap
    valid_until = _stamp(cap) if cap is not None and cap < moment.until else moment.until_text
    return {
        "address": body.address,
        "known": body.known,
        "matched": body.matched,
        "trust_level": body.trust_level,
        "max_classification": body.max_classification,
        "classification": body.classification,
        "permitted": body.permitted,
        "organisation": dict(body.organisation) if body.organisation is not None else None,
        "handling": dict(body.handling) if body.handling is not None else None,
        "certificates": [dict(c) for c in body.certificates],
        "reasons": list(body.reasons),
        "checked_at": moment.checked_at,
        "valid_until": valid_until,
        "policy": dict(body.policy),
    }


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


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


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
