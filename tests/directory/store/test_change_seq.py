"""The change sequence: one bump per write transaction, stamped on every row it touched;
register_seq (which invalidates lookup snapshots) moves for register-level changes only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from directory.service import Directory
from directory.store import tables as t
from tests.conftest import ADMIN, FrozenClock
from tests.directory.store.conftest import trusted_org

SEQ_TABLES = [table for table in t.metadata.sorted_tables if "change_seq" in table.c]


def stamped(d: Directory, seq: int) -> set[tuple[str, str]]:
    """(table, key) of every row whose change_seq is `seq`."""
    out: set[tuple[str, str]] = set()
    with d.store.engine.connect() as conn:
        for table in SEQ_TABLES:
            pk = next(iter(table.primary_key.columns))
            for (key,) in conn.execute(select(pk).where(table.c.change_seq == seq)):
                out.add((table.name, key))
            newest = conn.execute(select(table.c.change_seq).order_by(table.c.change_seq.desc()))
            top = newest.first()
            assert top is None or top[0] <= seq, f"{table.name} has a change_seq from the future"
    return out


def test_every_write_bumps_seq_once_and_stamps_what_it_touched(
    any_directory: Directory, clock: FrozenClock
) -> None:
    d, reg = any_directory, any_directory.registration
    ids: dict[str, Any] = {}
    now = clock.now

    def step(
        call: Callable[[], Any],
        touched: Callable[[], set[tuple[str, str]]],
        *,
        register: bool,
    ) -> None:
        before = d.store.state()
        audit_before = d.store.count(t.audit_log)
        call()
        after = d.store.state()
        assert after.seq == before.seq + 1
        if register:
            assert after.register_seq == after.seq
        else:
            assert after.register_seq == before.register_seq
        assert stamped(d, after.seq) == touched()
        assert d.store.count(t.audit_log) > audit_before

    def org(key: str) -> set[tuple[str, str]]:
        return {("organisations", ids[key])}

    def new(key: str, value: Any) -> Any:
        ids[key] = value.id
        return value

    sponsor = trusted_org(d, "Sponsor Council", "sponsor.gov.uk")
    ids["sponsor"] = sponsor.org.id
    step(
        lambda: new(
            "org", reg.create_organisation(ADMIN, "Charity", "third-sector", {"charity": "9"})
        ),
        lambda: org("org"),
        register=True,
    )
    step(lambda: reg.vet_organisation(ADMIN, ids["org"], "ok"), lambda: org("org"), register=True)
    step(
        lambda: reg.set_status(ADMIN, ids["org"], "active", "ok"),
        lambda: org("org"),
        register=True,
    )
    step(
        lambda: new("dom", reg.claim_domain(ADMIN, ids["org"], "charity.org.uk")),
        lambda: {("domains", ids["dom"])},
        register=True,
    )
    step(
        lambda: reg.record_domain_verification(ADMIN, ids["dom"], "TXT"),
        lambda: {("domains", ids["dom"])},
        register=True,
    )
    step(
        lambda: new(
            "acc",
            reg.add_accreditation(
                ADMIN, ids["org"], "iso-27001", "cert", now, now + timedelta(days=9)
            ),
        ),
        lambda: {("accreditations", ids["acc"])},
        register=True,
    )
    step(
        lambda: new(
            "sp",
            reg.add_sponsorship(
                ADMIN, ids["sponsor"], ids["org"], "p", "OFFICIAL", now, now + timedelta(days=9)
            ),
        ),
        lambda: {("sponsorships", ids["sp"])},
        register=True,
    )
    step(
        lambda: new("wide", reg.add_recipient(ADMIN, ids["org"], domain="charity.org.uk")),
        lambda: {("recipients", ids["wide"])},
        register=True,
    )
    step(
        lambda: reg.update_recipient(ADMIN, ids["wide"], exclusions=["noreply"]),
        lambda: {("recipients", ids["wide"])},
        register=True,
    )
    # Mailbox entries are read live by every lookup: they do not invalidate snapshots.
    step(
        lambda: new("box", reg.add_recipient(ADMIN, ids["org"], address="a@charity.org.uk")),
        lambda: {("recipients", ids["box"])},
        register=False,
    )
    step(
        lambda: reg.update_recipient(ADMIN, ids["box"], role="shared", mailbox_verified=True),
        lambda: {("recipients", ids["box"])},
        register=False,
    )
    step(
        lambda: reg.remove_recipient(ADMIN, ids["box"]),
        lambda: {("recipients", ids["box"])},
        register=False,
    )
    step(
        lambda: new("key", reg.create_api_key(ADMIN, "gw", ["lookup"])[0]),
        set,  # api_keys carries no change_seq
        register=True,
    )
    step(lambda: reg.revoke_api_key(ADMIN, ids["key"]), set, register=True)
    # One transaction touching several rows stamps them all with the same seq.
    step(
        lambda: reg.set_status(ADMIN, ids["sponsor"], "suspended", "review"),
        lambda: org("sponsor") | org("org"),
        register=True,
    )
    step(
        lambda: reg.end_sponsorship(ADMIN, ids["sp"]),
        lambda: {("sponsorships", ids["sp"])} | org("org"),
        register=True,
    )
    step(
        lambda: reg.end_accreditation(ADMIN, ids["acc"]),
        lambda: {("accreditations", ids["acc"])},
        register=True,
    )
    step(
        lambda: reg.remove_domain(ADMIN, ids["dom"]),
        lambda: {("domains", ids["dom"]), ("recipients", ids["wide"])},
        register=True,
    )


def test_mailbox_only_transaction_removing_domain_wide_entry_moves_register_seq(
    any_directory: Directory,
) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government")
    reg.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    wide = reg.add_recipient(ADMIN, org.id, domain="wessex.gov.uk")
    before = d.store.state()
    reg.remove_recipient(ADMIN, wide.id)
    after = d.store.state()
    assert after.seq == before.seq + 1 and after.register_seq == after.seq


def test_lookup_sees_a_suspension_after_the_snapshot_refresh(any_directory: Directory) -> None:
    d = any_directory
    trusted = trusted_org(d, "Wessex CC", "wessex.gov.uk")
    d.registration.add_recipient(
        ADMIN, trusted.org.id, address="j.smith@wessex.gov.uk", mailbox_verified=True
    )
    answer = d.lookup.lookup("J.Smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert answer["known"] and answer["matched"] == "mailbox"
    assert answer["trust_level"] == "accredited" and answer["permitted"] is True
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE"

    d.registration.set_status(ADMIN, trusted.org.id, "suspended", "incident")
    answer = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")
    assert answer["permitted"] is False and answer["max_classification"] is None

    d.registration.set_status(ADMIN, trusted.org.id, "active", "resolved")
    answer = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")
    assert answer["permitted"] is True


def test_lookup_sees_a_new_mailbox_entry_at_once(any_directory: Directory) -> None:
    d = any_directory
    trusted = trusted_org(d, "Wessex CC", "wessex.gov.uk")
    assert d.lookup.lookup("new.starter@wessex.gov.uk")["known"] is False
    register_seq = d.store.state().register_seq
    snapshot = d.lookup.snapshots.current()

    d.registration.add_recipient(ADMIN, trusted.org.id, address="new.starter@wessex.gov.uk")
    answer = d.lookup.lookup("new.starter@wessex.gov.uk", "OFFICIAL")
    assert answer["known"] is True and answer["matched"] == "mailbox"
    assert answer["permitted"] is True
    # ... without rebuilding the register snapshot.
    assert d.store.state().register_seq == register_seq
    assert d.lookup.snapshots.current() is snapshot

    d.registration.remove_recipient(
        ADMIN,
        d.store.mailbox_entry("new.starter@wessex.gov.uk").id,  # type: ignore[union-attr]
    )
    assert d.lookup.lookup("new.starter@wessex.gov.uk")["known"] is False
