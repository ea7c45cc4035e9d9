"""The audit log: who, when, what, before and after for every change, hash-chained; tampering
with the database directly (plain SQL, as an intruder or a careless DBA would) is reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import text

from directory.service import Directory
from directory.store import tables as t
from directory.store.audit import GENESIS, entry_hash
from tests.conftest import ADMIN, FrozenClock


def build_history(d: Directory, clock: FrozenClock) -> dict[str, str]:
    reg = d.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government", {"gss": "E1"})
    clock.advance(minutes=1)
    reg.set_status(ADMIN, org.id, "active", "application approved")
    clock.advance(minutes=1)
    dom = reg.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    box = reg.add_recipient(ADMIN, org.id, address="j.smith@wessex.gov.uk", display_name="Jo")
    clock.advance(seconds=1.5)
    reg.update_recipient(ADMIN, box.id, role="shared")
    reg.remove_recipient(ADMIN, box.id)
    reg.add_accreditation(
        ADMIN, org.id, "iso-27001", "cert 7", clock.now, clock.now + timedelta(days=90)
    )
    return {"org": org.id, "domain": dom.id, "box": box.id}


def sql(d: Directory, statement: str, **params: Any) -> None:
    with d.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def json_param(d: Directory, name: str) -> str:
    return f"CAST(:{name} AS json)" if d.store.backend == "postgresql" else f":{name}"


def problems(d: Directory, batch: int = 5000) -> list[tuple[int, str]]:
    _, found = d.store.verify_audit(batch=batch)
    return [(p.position, p.problem) for p in found]


def length(d: Directory) -> int:
    return d.store.count(t.audit_log)


def row(d: Directory, position: int) -> dict[str, Any]:
    (entry,) = d.store.audit_entries(after=position - 1, limit=1)
    assert entry.position == position
    return {
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


# --- what is written ----------------------------------------------------------------------


def test_every_change_records_who_when_what_before_and_after(
    any_directory: Directory, clock: FrozenClock
) -> None:
    d = any_directory
    start = clock.now
    ids = build_history(d, clock)
    entries = d.store.audit_entries(limit=1000)
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))
    assert all(e.actor == ADMIN.name for e in entries)
    assert all(e.at.tzinfo is not None and start <= e.at <= clock.now for e in entries)
    assert [e.action for e in entries] == [
        "organisation.create",
        "organisation.active",
        "organisation.status-reason",
        "domain.claim",
        "recipient.add",
        "recipient.update",
        "recipient.remove",
        "accreditation.add",
    ]

    create, activate, reason = entries[0], entries[1], entries[2]
    assert (create.entity, create.entity_id, create.before) == ("organisation", ids["org"], None)
    assert create.after is not None and create.after["name"] == "Wessex CC"
    assert create.after["identifiers"] == {"gss": "E1"} and create.after["status"] == "applied"
    assert create.at == start
    assert activate.before is not None and activate.after is not None
    assert (activate.before["status"], activate.after["status"]) == ("applied", "active")
    assert activate.at == start + timedelta(minutes=1)
    assert reason.after == {"reason": "application approved"}

    update, remove = entries[5], entries[6]
    assert update.entity == "recipient" and update.entity_id == ids["box"]
    assert update.before is not None and update.after is not None
    assert (update.before["role"], update.after["role"]) == ("person", "shared")
    assert update.after["display_name"] == "Jo"
    assert update.at == start + timedelta(minutes=2, seconds=1.5)
    assert remove.after is not None and remove.after["status"] == "removed"

    by_entity = d.store.audit_entries(entity_id=ids["box"])
    assert [e.action for e in by_entity] == [
        "recipient.add",
        "recipient.update",
        "recipient.remove",
    ]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))


def test_an_untampered_log_verifies(any_directory: Directory, clock: FrozenClock) -> None:
    d = any_directory
    assert d.store.verify_audit() == (0, [])
    build_history(d, clock)
    assert d.store.verify_audit() == (8, [])
    assert d.store.verify_audit(batch=3) == (8, [])  # across batch boundaries


def test_the_log_verifies_with_an_aware_clock_that_is_not_utc(
    any_directory: Directory, clock: FrozenClock
) -> None:
    """Every clock the directory accepts is aware; BST is as good a clock as UTC."""
    clock.now = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    build_history(any_directory, clock)
    assert problems(any_directory) == []


# --- tampering ----------------------------------------------------------------------------


@pytest.fixture
def history(any_directory: Directory, clock: FrozenClock) -> Directory:
    build_history(any_directory, clock)
    assert problems(any_directory) == []
    return any_directory


def test_an_edited_after_is_reported(history: Directory) -> None:
    d = history
    after = row(d, 5)["after"]
    after["display_name"] = "Someone Else"
    sql(
        d,
        f'UPDATE audit_log SET "after" = {json_param(d, "after")} WHERE "position" = 5',
        after=json.dumps(after),
    )
    assert row(d, 5)["after"]["display_name"] == "Someone Else"
    assert problems(d) == [(5, "edited")]


def test_an_edited_actor_is_reported(history: Directory) -> None:
    sql(history, """UPDATE audit_log SET actor = 'cli:innocent' WHERE "position" = 2""")
    assert problems(history) == [(2, "edited")]


def test_an_edited_time_or_before_is_reported(history: Directory) -> None:
    d = history
    sql(
        d,
        'UPDATE audit_log SET "at" = :at WHERE "position" = 6',
        at=datetime(2020, 1, 1, 0, 0),
    )
    before = row(d, 2)["before"]
    before["status"] = "active"
    sql(
        d,
        f'UPDATE audit_log SET "before" = {json_param(d, "b")} WHERE "position" = 2',
        b=json.dumps(before),
    )
    assert problems(d) == [(2, "edited"), (6, "edited")]


def test_an_edit_that_also_rewrites_the_hash_breaks_the_next_link(history: Directory) -> None:
    d = history
    entry = row(d, 3)
    forged_after = {"reason": "nothing to see here"}
    forged_hash = entry_hash(
        entry["prev_hash"],
        3,
        entry["at"],
        entry["actor"],
        entry["action"],
        entry["entity"],
        entry["entity_id"],
        entry["before"],
        forged_after,
    )
    sql(
        d,
        f'UPDATE audit_log SET "after" = {json_param(d, "a")}, hash = :h WHERE "position" = 3',
        a=json.dumps(forged_after),
        h=forged_hash,
    )
    assert problems(d) == [(4, "inserted or reordered")]


def insert_forged(d: Directory, position: int, digest: str, prev_hash: str) -> None:
    """Make room at `position` (two steps: the primary key is checked row by row), then insert."""
    sql(d, 'UPDATE audit_log SET "position" = -"position" WHERE "position" >= :p', p=position)
    sql(d, 'UPDATE audit_log SET "position" = 1 - "position" WHERE "position" < 0')
    sql(
        d,
        'INSERT INTO audit_log ("position", "at", actor, action, entity, entity_id, "before", '
        f'"after", prev_hash, hash) VALUES (:p, :at, :actor, :action, :entity, :eid, NULL, '
        f"{json_param(d, 'after')}, :prev, :hash)",
        p=position,
        at=datetime(2026, 11, 1, 9, 1, 30),
        actor="cli:intruder",
        action="api-key.create",
        entity="api-key",
        eid="forged",
        after=json.dumps({"scopes": ["directory-admin"]}),
        prev=prev_hash,
        hash=digest,
    )


def test_a_forged_row_inserted_in_the_middle_is_reported(history: Directory) -> None:
    d = history
    insert_forged(d, 4, "f" * 64, row(d, 3)["hash"])
    assert length(d) == 9 and row(d, 4)["actor"] == "cli:intruder"
    found = problems(d)
    assert (4, "edited") in found
    assert (5, "inserted or reordered") in found
    assert found[-1][1] == "head mismatch"


def test_a_forged_row_with_a_correct_hash_is_still_reported(history: Directory) -> None:
    d = history
    prev = row(d, 3)["hash"]
    at = datetime(2026, 11, 1, 9, 1, 30, tzinfo=UTC)
    after = {"scopes": ["directory-admin"]}
    digest = entry_hash(
        prev, 4, at, "cli:intruder", "api-key.create", "api-key", "forged", None, after
    )
    insert_forged(d, 4, digest, prev)
    found = problems(d)
    assert (4, "edited") not in found  # the forged row itself is self-consistent ...
    assert (5, "inserted or reordered") in found  # ... but the chain after it is not
    assert {p for p, _ in found if p > 4} and found[-1][1] == "head mismatch"


def test_a_deleted_row_in_the_middle_is_reported(history: Directory) -> None:
    sql(history, 'DELETE FROM audit_log WHERE "position" = 4')
    assert problems(history) == [(4, "deleted"), (5, "inserted or reordered")]
    _, found = history.store.verify_audit()
    assert found[0].detail == "entries 4..4 are missing"


def test_the_first_row_deleted_is_reported(history: Directory) -> None:
    sql(history, 'DELETE FROM audit_log WHERE "position" = 1')
    assert problems(history) == [(1, "deleted"), (2, "inserted or reordered")]


def test_the_last_row_deleted_is_a_head_mismatch(history: Directory) -> None:
    sql(history, 'DELETE FROM audit_log WHERE "position" = 8')
    assert problems(history) == [(8, "head mismatch")]


def test_the_whole_log_deleted_is_a_head_mismatch(history: Directory) -> None:
    sql(history, "DELETE FROM audit_log")
    assert history.store.verify_audit()[0] == 0
    assert problems(history) == [(8, "head mismatch")]


def test_two_rows_swapped_are_reported(history: Directory) -> None:
    d = history
    sql(d, 'UPDATE audit_log SET "position" = -1 WHERE "position" = 5')
    sql(d, 'UPDATE audit_log SET "position" = 5 WHERE "position" = 6')
    sql(d, 'UPDATE audit_log SET "position" = 6 WHERE "position" = -1')
    found = problems(d)
    assert (5, "inserted or reordered") in found and (5, "edited") in found
    assert (6, "edited") in found


def test_a_rewound_head_is_reported(history: Directory) -> None:
    sql(history, "UPDATE directory_state SET audit_head = :h WHERE id = 1", h="0" * 64)
    assert problems(history) == [(8, "head mismatch")]


def test_writes_after_tampering_do_not_hide_it(history: Directory) -> None:
    d = history
    sql(d, """UPDATE audit_log SET actor = 'cli:innocent' WHERE "position" = 2""")
    d.registration.create_organisation(ADMIN, "Later", "health")
    assert problems(d) == [(2, "edited")]
