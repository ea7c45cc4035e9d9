"""Leases (directory/store/leases.py) on both backends, and the LDAP publisher's use of them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.publish.connection import LDAPTarget
from directory.publish.publish import LEASE, LDAPPublisher
from directory.service import Directory
from directory.store import leases
from directory.store import tables as t


def test_one_holder_at_a_time_until_released_or_lapsed(any_directory: Directory) -> None:
    d = any_directory
    engine, now = d.store.engine, d.clock()
    assert leases.take(engine, "job", "a", now, 60) is None
    assert leases.take(engine, "job", "a", now, 60) is None  # the holder renews
    other = leases.take(engine, "job", "b", now, 60)
    assert other is not None and other[0] == "a" and other[1] == now + timedelta(seconds=60)
    assert leases.take(engine, "another job", "b", now, 60) is None  # per name
    later = now + timedelta(seconds=61)
    assert leases.take(engine, "job", "b", later, 60) is None  # a's lapsed
    assert leases.take(engine, "job", "a", later, 60) is not None
    leases.release(engine, "job", "a")  # not a's any more: nothing happens
    assert leases.take(engine, "job", "a", later, 60) is not None
    leases.release(engine, "job", "b")
    assert leases.take(engine, "job", "a", later, 60) is None


def test_a_second_publish_is_refused_before_anything_is_read(directory: Directory) -> None:
    d = directory
    before = d.store.state()
    assert leases.take(d.store.engine, LEASE, "host:1:running", d.clock(), 900) is None
    # nothing listens on this port: a publish that got past the lease would fail to connect
    target = LDAPTarget(url="ldap://127.0.0.1:9/", base_dn="dc=x", bind_dn="cn=x", password="x")
    publisher = LDAPPublisher(d, target)
    for run in (publisher.sync, publisher.publish):
        with pytest.raises(DirectoryError) as caught:
            run()
        assert caught.value.kind is ErrorKind.CONFLICT
        assert "another LDAP publish or sync is running (host:1:running" in caught.value.detail
    assert d.store.state() == before and d.store.count(t.leases) == 1
