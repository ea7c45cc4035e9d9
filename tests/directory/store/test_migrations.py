"""Migrations: idempotent, at head, and producing exactly the schema tables.py describes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory
from directory.store import migrate
from directory.store import tables as t
from tests.conftest import ADMIN
from tests.directory.store.conftest import fingerprint


def schema_differences(d: Directory) -> list:
    with d.store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, t.metadata)


def test_migrated_schema_matches_the_metadata(any_directory: Directory) -> None:
    assert schema_differences(any_directory) == []
    names = set(inspect(any_directory.store.engine).get_table_names())
    assert names == {table.name for table in t.metadata.sorted_tables} | {"alembic_version"}


def test_schema_is_at_head(any_directory: Directory) -> None:
    head = migrate.head_revision()  # alembic's, from the migration scripts
    assert head is not None and head == migrate.HEAD  # what check_schema expects
    assert migrate.current_revision(any_directory.store.engine) == head
    with any_directory.store.engine.connect() as conn:  # and alembic reads the same revision
        from alembic.migration import MigrationContext

        assert MigrationContext.configure(conn).get_current_revision() == head
    any_directory.check_schema()


def test_initialise_is_idempotent(any_directory: Directory) -> None:
    d = any_directory
    org = d.registration.create_organisation(ADMIN, "Wessex CC", "local-government")
    before = fingerprint(d)
    d.initialise()
    d.initialise()
    assert fingerprint(d) == before
    assert d.store.organisation(org.id) == org
    with d.store.engine.connect() as conn:
        assert len(conn.execute(select(t.directory_state)).all()) == 1
    assert schema_differences(d) == []
    assert d.store.verify_audit() == (before["state"]["audit_position"], [])


def test_check_schema_refuses_an_unmigrated_database(empty_directory: Directory) -> None:
    d = empty_directory
    with pytest.raises(DirectoryError) as caught:
        d.check_schema()
    assert caught.value.kind is ErrorKind.CONFIG
    assert "schema none" in caught.value.detail and "clearance init" in caught.value.detail
    assert migrate.current_revision(d.store.engine) is None

    d.initialise()
    d.check_schema()
    assert d.store.state().seq == 0 and d.store.verify_audit() == (0, [])
    assert schema_differences(d) == []


def test_schema_comparison_notices_drift(any_directory: Directory) -> None:
    """The comparison above is not vacuous: a dropped index is seen on either backend."""
    with any_directory.store.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_recipients_change_seq"))
    differences = schema_differences(any_directory)
    assert [d[0] for d in differences] == ["add_index"]
    assert differences[0][1].name == "ix_recipients_change_seq"


def test_upgrading_from_0003_gives_the_store_an_instance_id(empty_directory: Directory) -> None:
    """0004 adds directory_state.instance to a store made before it (the lookup mirror's check
    that it copies this store); a new store gets its own at `clearance init`."""
    engine = empty_directory.store.engine
    migrate.upgrade(engine, "0003_leases")
    with engine.begin() as conn:  # the state row as 0003's code made it
        conn.execute(
            text(
                "INSERT INTO directory_state (id, seq, register_seq, audit_position, audit_head) "
                "VALUES (1, 0, 0, 0, 'genesis')"
            )
        )
        assert "instance" not in {c["name"] for c in inspect(conn).get_columns("directory_state")}
    migrate.upgrade(engine)
    with engine.connect() as conn:
        first = conn.execute(select(t.directory_state.c.instance)).scalar_one()
    assert first is not None and len(first) == 36
    empty_directory.initialise()  # idempotent: the id stays
    with engine.connect() as conn:
        assert conn.execute(select(t.directory_state.c.instance)).scalar_one() == first


def test_upgrading_from_0005_constrains_each_peer_to_what_it_listed(
    empty_directory: Directory,
) -> None:
    """0006 adds federation_peers.permitted_domains: a peer made before it keeps the domains
    its last list held (and nothing else); a peer that imported nothing is permitted nothing."""
    engine = empty_directory.store.engine
    migrate.upgrade(engine, "0005_federated_subaddress")
    peer = (
        "INSERT INTO federation_peers (id, name, public_key, key_id, max_trust, status, "
        "created_at, changed_at, change_seq) VALUES "
        "(:id, :name, 'PEM', :id, 'accredited', 'active', :at, :at, 1)"
    )
    domain = (
        "INSERT INTO federated_domains (id, peer_id, domain, organisation_id, "
        "organisation_name, sector, trust_level, domain_wide, exclusions, change_seq) VALUES "
        "(:id, :peer, :domain, 'o', 'Org', 'health', 'accredited', 1, '[]', 1)"
    )
    at = "2026-12-01 00:00:00.000000"
    with engine.begin() as conn:
        conn.execute(text(peer), {"id": "p1", "name": "wessex", "at": at})
        conn.execute(text(peer), {"id": "p2", "name": "idle", "at": at})
        for n, name in enumerate(["wessex.gov.uk", "cwh.nhs.uk"]):
            conn.execute(text(domain), {"id": f"d{n}", "peer": "p1", "domain": name})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.federation_peers.c.name, t.federation_peers.c.permitted_domains)
        ).all()
    assert dict(rows) == {"wessex": ["cwh.nhs.uk", "wessex.gov.uk"], "idle": []}
    assert schema_differences(empty_directory) == []
