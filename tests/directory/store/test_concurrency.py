"""Concurrent writers: the state row serialises them, so the chain and the sequence stay whole."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from directory.errors import DirectoryError
from directory.service import Directory
from directory.store import tables as t
from tests.conftest import ADMIN

WRITES = 20


def test_two_threads_writing_at_once_keep_the_chain_and_the_sequence(
    any_directory: Directory,
) -> None:
    d = any_directory
    org = d.registration.create_organisation(ADMIN, "Shared Council", "local-government")
    d.registration.claim_domain(ADMIN, org.id, "shared.gov.uk")
    start = d.store.state().seq
    gate = threading.Barrier(2)

    def writer(name: str) -> list[str]:
        gate.wait()
        made = []
        for i in range(WRITES):
            if i % 2:
                made.append(d.registration.create_organisation(ADMIN, f"{name} {i}", "health").id)
            else:
                entry = d.registration.add_recipient(
                    ADMIN, org.id, address=f"{name}.{i}@shared.gov.uk"
                )
                made.append(entry.id)
        return made

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(writer, n) for n in ("a", "b")]]

    assert len({*results[0], *results[1]}) == 2 * WRITES
    state = d.store.state()
    assert state.seq == start + 2 * WRITES
    checked, found = d.store.verify_audit()
    assert found == [] and checked == d.store.count(t.audit_log) == 2 + 2 * WRITES
    with d.store.engine.connect() as conn:
        seqs = [
            *conn.execute(select(t.organisations.c.change_seq)).scalars(),
            *conn.execute(select(t.recipients.c.change_seq)).scalars(),
        ]
    # Every transaction got its own number: the 40 concurrent ones are exactly start+1..start+40.
    assert sorted(s for s in seqs if s > start) == list(range(start + 1, start + 2 * WRITES + 1))


def test_racing_claims_of_one_domain_leave_one_winner(any_directory: Directory) -> None:
    """Both pass the pre-check; the partial unique index decides, and the loser writes nothing."""
    d = any_directory
    orgs = [
        d.registration.create_organisation(ADMIN, f"Claimant {i}", "health").id for i in range(2)
    ]
    gate = threading.Barrier(2)
    real_domain_by_name = d.store.domain_by_name

    def after_both_checked(name: str):  # type: ignore[no-untyped-def]
        found = real_domain_by_name(name)
        gate.wait(timeout=10)  # both claims have seen "not claimed yet"
        return found

    d.store.domain_by_name = after_both_checked  # type: ignore[method-assign]
    outcomes: list[str] = []

    def claim(org_id: str) -> None:
        try:
            d.registration.claim_domain(ADMIN, org_id, "contested.nhs.uk")
            outcomes.append("won")
        except DirectoryError as exc:
            outcomes.append(exc.kind.value)

    start = d.store.state().seq
    with ThreadPoolExecutor(max_workers=2) as pool:
        for f in [pool.submit(claim, o) for o in orgs]:
            f.result(timeout=60)
    assert sorted(outcomes) == ["conflict", "won"]
    assert d.store.count(t.domains) == 1
    assert d.store.state().seq == start + 1
    assert d.store.verify_audit()[1] == []
