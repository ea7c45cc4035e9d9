"""Who may do what (directory.authz), and that every registration entry point asks: the denials
tested as carefully as the permissions, and a denied call writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from directory.authz import (
    RULES,
    Action,
    Principal,
    allowed,
    authorize,
    check_scope,
    detail_rule,
)
from directory.errors import DirectoryError, ErrorKind
from directory.model import Organisation
from directory.registration import NewMailbox, Registration
from directory.service import Directory
from tests.conftest import ADMIN, START, FrozenClock
from tests.directory.test_lookup import audit_length, build_template, clone_directory, register

ORG = "0b0e7c1a-2f5b-4c1e-9a63-6a0d5d6f1a01"
OTHER = "7d9f3e2b-8c4a-4f6e-b1d2-3c5e7a9b0c12"

NOBODY = Principal("api-key:nobody", frozenset())
LOOKUP = Principal("api-key:gateway", frozenset({"lookup"}))
ORG_ADMIN = Principal("api-key:org", frozenset({f"org-admin:{ORG}"}))
DIRECTORY_ADMIN = Principal("cli:root", frozenset({"directory-admin"}))

# What an organisation's own administrator may do for that organisation, and nothing more: an
# explicit list, so that a new action granted to org admins needs a decision here.
ORG_ADMIN_ACTIONS = frozenset(
    {
        Action.LOOKUP,
        Action.READ_ORGANISATION,
        Action.MANAGE_DOMAINS,
        Action.VERIFY_DOMAIN,  # a DNS check proves control; a manual record does not
        Action.CHECK_POSTURE,
        Action.MANAGE_RECIPIENTS,
        Action.SPONSOR,
        Action.ISSUE_CERTIFICATE,
        Action.REVOKE_CERTIFICATE,
    }
)
ORG_IDS = [None, ORG, OTHER]


def test_every_action_has_a_rule() -> None:
    assert set(RULES) == set(Action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("org_id", ORG_IDS)
def test_no_scopes_no_actions(action: Action, org_id: str | None) -> None:
    assert not allowed(NOBODY, action, org_id)
    with pytest.raises(DirectoryError) as caught:
        authorize(NOBODY, action, org_id)
    assert caught.value.kind is ErrorKind.FORBIDDEN
    assert action.value in caught.value.detail


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("org_id", ORG_IDS)
def test_lookup_scope_can_only_look_up(action: Action, org_id: str | None) -> None:
    assert allowed(LOOKUP, action, org_id) is (action is Action.LOOKUP)


@pytest.mark.parametrize("action", list(Action))
def test_org_admin_for_its_own_organisation(action: Action) -> None:
    assert allowed(ORG_ADMIN, action, ORG) is (action in ORG_ADMIN_ACTIONS)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("org_id", [OTHER, None, ORG.upper(), ORG + " "])
def test_org_admin_for_anything_else(action: Action, org_id: str | None) -> None:
    assert allowed(ORG_ADMIN, action, org_id) is (action is Action.LOOKUP)


@pytest.mark.parametrize(
    "action",
    [
        Action.CREATE_ORGANISATION,
        Action.UPDATE_ORGANISATION,
        Action.VET_ORGANISATION,
        Action.CHANGE_STATUS,
        Action.RECORD_VERIFICATION,
        Action.PREVIEW_POSTURE,
        Action.RUN_SCHEDULE,
        Action.MANAGE_ACCREDITATIONS,
        Action.MANAGE_API_KEYS,
        Action.READ_AUDIT,
        Action.LIST_ORGANISATIONS,
    ],
)
def test_org_admin_never_raises_its_own_trust_or_administers(action: Action) -> None:
    with pytest.raises(DirectoryError) as caught:
        authorize(ORG_ADMIN, action, ORG)
    assert caught.value.kind is ErrorKind.FORBIDDEN


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("org_id", ORG_IDS)
def test_directory_admin_may_do_everything(action: Action, org_id: str | None) -> None:
    assert allowed(DIRECTORY_ADMIN, action, org_id)
    authorize(DIRECTORY_ADMIN, action, org_id)


def test_scopes_are_exact() -> None:
    lookalikes = [
        "Directory-Admin",
        "directory-admin ",
        "admin",
        "lookup:all",
        f"org-admin:{ORG[:-1]}",
        f"org-admin: {ORG}",
        f"org-admin:{ORG.upper()}",
        "org-admin:*",
    ]
    for scope in lookalikes:
        p = Principal("api-key:x", frozenset({scope}))
        assert not any(allowed(p, action, org) for action in Action for org in ORG_IDS), scope


def test_two_org_admin_scopes() -> None:
    both = Principal("api-key:x", frozenset({f"org-admin:{ORG}", f"org-admin:{OTHER}"}))
    assert allowed(both, Action.MANAGE_DOMAINS, ORG)
    assert allowed(both, Action.MANAGE_DOMAINS, OTHER)
    assert not allowed(both, Action.VET_ORGANISATION, ORG)


def test_detail_rule() -> None:
    assert detail_rule(DIRECTORY_ADMIN)(None) and detail_rule(DIRECTORY_ADMIN)(OTHER)
    org_detail = detail_rule(ORG_ADMIN)
    assert org_detail(ORG)
    assert not org_detail(OTHER)
    assert not org_detail(None)
    assert not any(detail_rule(p)(o) for p in (NOBODY, LOOKUP) for o in ORG_IDS)


@pytest.mark.parametrize("scope", ["lookup", "directory-admin", "federation", f"org-admin:{ORG}"])
def test_check_scope_accepts(scope: str) -> None:
    assert check_scope(scope) == scope


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("org_id", ORG_IDS)
def test_federation_scope_only_reads_the_trust_list(action: Action, org_id: str | None) -> None:
    peer = Principal("api-key:peer", frozenset({"federation"}))
    assert allowed(peer, action, org_id) is (action is Action.EXPORT_TRUST_LIST)


@pytest.mark.parametrize(
    "scope", ["", "admin", "Lookup", "org-admin:", "org-admin:acme", f"org-admin:{ORG}x"]
)
def test_check_scope_refuses(scope: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        check_scope(scope)
    assert caught.value.kind is ErrorKind.MALFORMED


# --- registration: every entry point authorises ---------------------------------------------
@dataclass
class Setup:
    d: Directory
    mine: Organisation  # the org-admin's organisation: active, vetted, accredited
    theirs: Organisation  # another organisation
    ids: dict[str, str]


@dataclass
class Records:
    mine: Organisation  # the org-admin's organisation: active, vetted, accredited
    theirs: Organisation  # another organisation
    ids: dict[str, str]


def build_records(directory: Directory, _clock: FrozenClock) -> Records:
    mine = register(
        directory, "Mine", "mine.gov.uk", domain_wide=True, mailboxes=[("a", "person", True)]
    )
    theirs = register(
        directory, "Theirs", "theirs.gov.uk", domain_wide=True, mailboxes=[("b", "person", True)]
    )
    r = directory.registration
    assert mine.domain is not None and theirs.domain is not None
    mailbox_mine = directory.store.mailbox_entry("a@mine.gov.uk")
    mailbox_theirs = directory.store.mailbox_entry("b@theirs.gov.uk")
    assert mailbox_mine is not None and mailbox_theirs is not None
    sp_mine = r.add_sponsorship(
        ADMIN, mine.org.id, theirs.org.id, "p", "OFFICIAL", START, START + timedelta(days=9)
    )
    sp_theirs = r.add_sponsorship(
        ADMIN, theirs.org.id, mine.org.id, "p", "OFFICIAL", START, START + timedelta(days=9)
    )
    acc_mine = directory.store.accreditations(mine.org.id)[0]
    key, _ = r.create_api_key(ADMIN, "gateway", ["lookup"])
    ids = {
        "mine": mine.org.id,
        "theirs": theirs.org.id,
        "domain_mine": mine.domain.id,
        "domain_theirs": theirs.domain.id,
        "recipient_mine": mailbox_mine.id,
        "recipient_theirs": mailbox_theirs.id,
        "sponsorship_mine": sp_mine.id,
        "sponsorship_theirs": sp_theirs.id,
        "accreditation_mine": acc_mine.id,
        "key": key.id,
    }
    return Records(mine.org, theirs.org, ids)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Records, FrozenClock]:
    return build_template(tmp_path_factory.mktemp("authz"), build_records)


@pytest.fixture
def setup(
    template: tuple[Path, Records, FrozenClock], tmp_path: Path, clock: FrozenClock
) -> Iterator[Setup]:
    home, records, _ = template
    d = clone_directory(home, tmp_path, clock)
    yield Setup(d, records.mine, records.theirs, records.ids)
    d.close()


Call = Callable[[Directory, Principal, dict[str, str]], Any]
T0 = START
T1 = START + timedelta(days=30)

# Each registration entry point, and whether an org-admin of "mine" may call it (on its own
# organisation's records where the call names one).
CALLS: dict[str, tuple[Call, bool]] = {
    "organisation": (lambda d, p, i: d.registration.organisation(p, i["mine"]), True),
    "create_organisation": (
        lambda d, p, i: d.registration.create_organisation(p, "New", "health"),
        False,
    ),
    "update_organisation": (
        lambda d, p, i: d.registration.update_organisation(p, i["mine"], name="Renamed"),
        False,
    ),
    "clear_review": (
        lambda d, p, i: d.registration.update_organisation(p, i["mine"], clear_review=True),
        False,
    ),
    "vet_organisation": (
        lambda d, p, i: d.registration.vet_organisation(p, i["mine"], "evidence"),
        False,
    ),
    "set_status": (
        lambda d, p, i: d.registration.set_status(p, i["mine"], "suspended", "why"),
        False,
    ),
    "claim_domain": (
        lambda d, p, i: d.registration.claim_domain(p, i["mine"], "new.mine.gov.uk"),
        True,
    ),
    "record_domain_verification": (
        lambda d, p, i: d.registration.record_domain_verification(p, i["domain_mine"], "x"),
        False,
    ),
    "record_posture": (
        lambda d, p, i: d.registration.record_posture(
            p, i["domain_mine"], evidence="x", tls=True, mta_sts="enforce", dmarc="reject"
        ),
        False,
    ),
    "add_recipient": (
        lambda d, p, i: d.registration.add_recipient(p, i["mine"], address="new@mine.gov.uk"),
        True,
    ),
    "add_mailboxes": (
        lambda d, p, i: d.registration.add_mailboxes(
            p, i["mine"], [NewMailbox("n1@mine.gov.uk"), NewMailbox("n2@mine.gov.uk")]
        ),
        True,
    ),
    "update_recipient": (
        lambda d, p, i: d.registration.update_recipient(p, i["recipient_mine"], role="shared"),
        True,
    ),
    "remove_recipient": (
        lambda d, p, i: d.registration.remove_recipient(p, i["recipient_mine"]),
        True,
    ),
    "add_accreditation": (
        lambda d, p, i: d.registration.add_accreditation(p, i["mine"], "iso-27001", "e", T0, T1),
        False,
    ),
    "end_accreditation": (
        lambda d, p, i: d.registration.end_accreditation(p, i["accreditation_mine"]),
        False,
    ),
    "add_sponsorship": (
        lambda d, p, i: d.registration.add_sponsorship(
            p, i["mine"], i["theirs"], "p", "OFFICIAL", T0, T1
        ),
        True,
    ),
    "end_sponsorship": (
        lambda d, p, i: d.registration.end_sponsorship(p, i["sponsorship_mine"]),
        True,
    ),
    "create_api_key": (
        lambda d, p, i: d.registration.create_api_key(p, "k", ["lookup"]),
        False,
    ),
    "revoke_api_key": (lambda d, p, i: d.registration.revoke_api_key(p, i["key"]), False),
    "remove_domain": (lambda d, p, i: d.registration.remove_domain(p, i["domain_mine"]), True),
    # reads (directory/registration/reads.py): every read an admin route or command makes
    "organisations": (lambda d, p, i: d.registration.organisations(p), False),
    "organisation_record": (
        lambda d, p, i: d.registration.organisation_record(p, i["mine"]),
        True,
    ),
    "domains_of": (lambda d, p, i: d.registration.domains_of(p, i["mine"]), True),
    "recipients_of": (lambda d, p, i: d.registration.recipients_of(p, i["mine"]), True),
    "api_keys": (lambda d, p, i: d.registration.api_keys(p), False),
    "audit_entries": (lambda d, p, i: d.registration.audit_entries(p), False),
    "verify_audit": (lambda d, p, i: d.registration.verify_audit(p), False),
}
READS = frozenset(
    {
        "organisation",
        "organisation_record",
        "domains_of",
        "recipients_of",
        "organisations",
        "api_keys",
        "audit_entries",
        "verify_audit",
    }
)

# The same entry points aimed at the other organisation's records: an org-admin of "mine" may
# call none of them.
OTHERS: dict[str, Call] = {
    "organisation": lambda d, p, i: d.registration.organisation(p, i["theirs"]),
    "claim_domain": lambda d, p, i: d.registration.claim_domain(p, i["theirs"], "x.theirs.gov.uk"),
    "add_recipient": lambda d, p, i: d.registration.add_recipient(
        p, i["theirs"], address="new@theirs.gov.uk"
    ),
    "add_mailboxes": lambda d, p, i: d.registration.add_mailboxes(
        p, i["theirs"], [NewMailbox("n1@theirs.gov.uk")]
    ),
    "add_mailboxes_on_their_domain": lambda d, p, i: d.registration.add_mailboxes(
        p, i["mine"], [NewMailbox("n1@mine.gov.uk"), NewMailbox("n1@theirs.gov.uk")]
    ),
    "add_recipient_on_their_domain": lambda d, p, i: d.registration.add_recipient(
        p, i["mine"], address="new@theirs.gov.uk"
    ),
    "update_recipient": lambda d, p, i: d.registration.update_recipient(
        p, i["recipient_theirs"], role="shared"
    ),
    "remove_recipient": lambda d, p, i: d.registration.remove_recipient(p, i["recipient_theirs"]),
    "remove_domain": lambda d, p, i: d.registration.remove_domain(p, i["domain_theirs"]),
    "add_sponsorship_as_them": lambda d, p, i: d.registration.add_sponsorship(
        p, i["theirs"], i["mine"], "p", "OFFICIAL", T0, T1
    ),
    "end_their_sponsorship_of_me": lambda d, p, i: d.registration.end_sponsorship(
        p, i["sponsorship_theirs"]
    ),
    "organisation_record": lambda d, p, i: d.registration.organisation_record(p, i["theirs"]),
    "domains_of": lambda d, p, i: d.registration.domains_of(p, i["theirs"]),
    "recipients_of": lambda d, p, i: d.registration.recipients_of(p, i["theirs"]),
}


def _denied(s: Setup, p: Principal, call: Call) -> DirectoryError:
    before = audit_length(s.d)
    state = s.d.store.state()
    with pytest.raises(DirectoryError) as caught:
        call(s.d, p, s.ids)
    assert audit_length(s.d) == before
    assert s.d.store.state() == state
    return caught.value


@pytest.mark.parametrize("name", list(CALLS))
def test_registration_denies_no_scopes_and_lookup_scope(setup: Setup, name: str) -> None:
    call, _ = CALLS[name]
    for p in (NOBODY, LOOKUP):
        err = _denied(setup, p, call)
        assert err.kind is ErrorKind.FORBIDDEN, (name, p.name)
        assert p.name in err.detail


@pytest.mark.parametrize("name", [n for n, (_, ok) in CALLS.items() if not ok])
def test_registration_denies_org_admin_its_admin_only_actions(setup: Setup, name: str) -> None:
    me = Principal("api-key:mine", frozenset({f"org-admin:{setup.mine.id}"}))
    err = _denied(setup, me, CALLS[name][0])
    assert err.kind is ErrorKind.FORBIDDEN, name


@pytest.mark.parametrize("name", list(OTHERS))
def test_registration_denies_org_admin_other_organisations(setup: Setup, name: str) -> None:
    me = Principal("api-key:mine", frozenset({f"org-admin:{setup.mine.id}"}))
    err = _denied(setup, me, OTHERS[name])
    if name in ("add_recipient_on_their_domain", "add_mailboxes_on_their_domain"):
        # Allowed to manage its own recipients, but not on a domain it does not hold.
        assert err.kind is ErrorKind.CONFLICT
    else:
        assert err.kind is ErrorKind.FORBIDDEN, name


@pytest.mark.parametrize("name", [n for n, (_, ok) in CALLS.items() if ok])
def test_registration_allows_org_admin_its_own_records(setup: Setup, name: str) -> None:
    me = Principal("api-key:mine", frozenset({f"org-admin:{setup.mine.id}"}))
    before = audit_length(setup.d)
    CALLS[name][0](setup.d, me, setup.ids)
    if name not in READS:  # a read writes nothing
        entries = setup.d.store.audit_entries(after=before)
        assert entries and all(e.actor == me.name for e in entries)
    else:
        assert audit_length(setup.d) == before


@pytest.mark.parametrize("name", list(CALLS))
def test_registration_allows_directory_admin_everything(setup: Setup, name: str) -> None:
    CALLS[name][0](setup.d, DIRECTORY_ADMIN, setup.ids)


def test_every_registration_entry_point_is_covered() -> None:
    """A new public method of Registration needs a row in CALLS (domain_named is a plain
    read of public data used by the transports)."""
    methods = {  # over every record type's class (directory/registration/)
        n
        for n in dir(Registration)
        if callable(getattr(Registration, n)) and not n.startswith("_") and n != "domain_named"
    }
    assert methods == {n for n in CALLS if n != "clear_review"}


def test_org_admin_can_run_its_organisation(directory: Directory) -> None:
    """End to end: an org-admin key adds a domain and a mailbox; the directory admin verifies."""
    reg = register(directory, "Council", None)
    me = Principal("api-key:council", frozenset({f"org-admin:{reg.org.id}"}))
    r = directory.registration
    dom = r.claim_domain(me, reg.org.id, "council.gov.uk")
    r.add_recipient(me, reg.org.id, address="j.smith@council.gov.uk", mailbox_verified=True)
    assert directory.lookup.lookup("j.smith@council.gov.uk")["known"] is False
    with pytest.raises(DirectoryError) as caught:
        r.record_domain_verification(me, dom.id, "I promise")
    assert caught.value.kind is ErrorKind.FORBIDDEN
    r.record_domain_verification(ADMIN, dom.id, "TXT seen")
    # Known now; OFFICIAL only, as no posture has been recorded.
    answer = directory.lookup.lookup("j.smith@council.gov.uk")
    assert answer["known"] is True
    assert answer["max_classification"] == "OFFICIAL"
