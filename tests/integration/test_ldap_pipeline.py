"""Pipelined writes (LDAPSession.write_all) against a real slapd: many requests outstanding on
one connection, answers matched by message id, failures reported and the connection left usable
or closed, never half-read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.publish.connection import SEND_BATCH, LDAPSession, Write
from directory.publish.publish import LDAPPublisher
from directory.service import Directory
from tests.integration.ldap_support import BASE, one, published, slapd, target
from tests.support.slapd import Slapd

pytestmark = pytest.mark.integration
__all__ = ["slapd"]

PARENT = f"ou=recipients,{BASE}"
CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson", "clearanceRecipient"]


def _person(n: int, **extra: object) -> Write[int]:
    address = f"p{n}@pipe.example"
    attributes = {
        "clearanceAddress": address,
        "cn": [f'Person {n} *()\\,+"<>;='],
        "sn": "Zoë",
        "mail": [address],
        "clearanceVerified": "TRUE",
        "clearanceEntryKind": "mailbox",
        "clearanceOrganisationId": "org_pipe",
        "objectClass": CLASSES,
        **extra,
    }
    return Write("add", f"clearanceAddress={address},{PARENT}", attributes, n)


def _addresses(server: Slapd) -> dict[str, dict[str, list[str | bytes]]]:
    return {str(one(e, "clearanceAddress")): e for e in published(server, "(mail=*@pipe.example)")}


def test_many_writes_in_flight_all_land(slapd: Slapd, directory: Directory) -> None:
    LDAPPublisher(directory, target(slapd)).publish()  # the base and ou entries
    with LDAPSession(target(slapd)) as session:
        assert session.write_all([_person(0)]) == []
        before = session.operations
        writes = [_person(n) for n in range(300)]  # p0 exists already
        existed = session.write_all(writes, window=7)
        assert [w.item for w in existed] == [0]
        assert session.operations - before == 300
        changes = [
            Write[int]("replace", f"clearanceAddress=p{n}@pipe.example,{PARENT}", {"sn": [f"S{n}"]})
            for n in range(0, 300, 3)
        ]
        deletes = [
            Write[int]("delete", f"clearanceAddress=p{n}@pipe.example,{PARENT}")
            for n in range(1, 300, 3)
        ]
        missing = [
            Write[int]("delete", f"clearanceAddress=nobody@pipe.example,{PARENT}"),
            Write[int]("replace", f"clearanceAddress=nobody@pipe.example,{PARENT}", {"sn": "x"}),
        ]
        assert session.write_all(changes + deletes + missing, window=5) == []
        # The connection is in step afterwards: an ordinary ldap3 operation works.
        assert session.read(BASE, ["objectClass"]) is not None
    found = _addresses(slapd)
    assert len(found) == 200
    assert one(found["p3@pipe.example"], "sn") == "S3"
    assert one(found["p2@pipe.example"], "sn") == "Zoë"
    assert one(found["p2@pipe.example"], "cn") == 'Person 2 *()\\,+"<>;='
    assert "p1@pipe.example" not in found


def test_a_refused_write_stops_the_pipeline_and_is_reported(
    slapd: Slapd, directory: Directory
) -> None:
    LDAPPublisher(directory, target(slapd)).publish()
    with LDAPSession(target(slapd)) as session:
        sent: list[int] = []

        def writes() -> Iterator[Write[int]]:
            for n in range(200):
                sent.append(n)
                yield _person(n, noSuchAttribute="x") if n == 10 else _person(n)

        with pytest.raises(DirectoryError) as caught:
            session.write_all(writes(), window=4)
        assert caught.value.kind is ErrorKind.CONFIG
        assert "p10@pipe.example" in str(caught.value)
        # Every answer due was read: the connection still works.
        assert session.read(BASE, ["objectClass"]) is not None
    found = _addresses(slapd)
    assert "p10@pipe.example" not in found
    assert {f"p{n}@pipe.example" for n in range(10)} <= set(found)
    # Sending stopped soon after the failure: within a window and a send batch of it.
    assert len(sent) < 10 + 4 + SEND_BATCH + 1
    assert len(found) == len(sent) - 1


def test_a_server_that_goes_away_fails_closed(slapd: Slapd, directory: Directory) -> None:
    LDAPPublisher(directory, target(slapd)).publish()
    session = LDAPSession(target(slapd))
    try:
        session.conn.socket.shutdown(2)  # as if the server had dropped the connection

        with pytest.raises(DirectoryError) as caught:
            session.write_all(_person(n) for n in range(50))
        assert caught.value.kind is ErrorKind.UNAVAILABLE
        with pytest.raises(DirectoryError):
            session.write_all([_person(99)])
    finally:
        session.close()
