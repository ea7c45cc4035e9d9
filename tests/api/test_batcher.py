"""Single lookups gathered per event-loop iteration (api/batcher.py): the same answers and the
same errors as one `Lookup.lookup` each, one store query for the lot, and a failing store gives
every waiting caller an error, never an answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.batcher import LookupBatcher
from directory.authz import Principal, detail_rule
from directory.errors import DirectoryError, ErrorKind
from directory.lookup import all_detail, no_detail
from directory.service import Directory
from directory.settings import load_settings
from tests.api.helpers import add_org, bearer
from tests.conftest import FrozenClock

ADDRESSES = [
    "j.smith@wessex.gov.uk",
    "J.Smith@Wessex.gov.uk",  # the same mailbox, spelt otherwise
    "anyone@wessex.gov.uk",  # the domain-wide entry
    "ops@suspended.co.uk",  # known, not trusted
    "nobody@unknown.example",
    "j.smith@wessex.gov.uk",  # asked twice in one batch
]


def add_orgs(directory: Directory) -> dict[str, str]:
    council, _ = add_org(directory, "Wessex Council", "wessex.gov.uk")
    supplier, _ = add_org(
        directory,
        "Suspended Supplier",
        "suspended.co.uk",
        sector="private-supplier",
        status="suspended",
        mailboxes=("ops",),
    )
    return {"council": council.id, "supplier": supplier.id}


@pytest.fixture
def orgs(directory: Directory) -> dict[str, str]:
    return add_orgs(directory)


@pytest.fixture
def cached(tmp_path: Path, clock: FrozenClock) -> Iterator[Directory]:
    """A directory whose answer cache is on (the `directory` fixture's is off)."""
    settings = load_settings(home=tmp_path / "cached", cache_refresh_seconds=60.0)
    directory = Directory(settings, clock)
    directory.initialise()
    add_orgs(directory)
    yield directory
    directory.close()


class CountingStore:
    """Counts the mailbox queries a lookup makes (the real finder underneath)."""

    def __init__(self, directory: Directory, monkeypatch: pytest.MonkeyPatch) -> None:
        finder = directory.store.mailboxes
        self.one = self.many = 0
        real_one, real_many = finder.find_one, finder.find

        def find_one(address: str) -> Any:
            self.one += 1
            return real_one(address)

        def find(addresses: list[str]) -> Any:
            self.many += 1
            return real_many(addresses)

        monkeypatch.setattr(finder, "find_one", find_one)
        monkeypatch.setattr(finder, "find", find)


async def gather(batcher: LookupBatcher, asks: list[tuple[str, str | None, Any]]) -> list[Any]:
    return await asyncio.gather(
        *(batcher.answer(a, c, d) for a, c, d in asks), return_exceptions=True
    )


def test_lookups_of_one_iteration_share_one_query_and_answer_as_lookup_does(
    cached: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = cached
    expected = [directory.lookup.lookup(a, "OFFICIAL-SENSITIVE") for a in ADDRESSES]
    directory.lookup.answers.clear()
    store = CountingStore(directory, monkeypatch)
    batcher = LookupBatcher(directory.lookup)
    got = asyncio.run(gather(batcher, [(a, "OFFICIAL-SENSITIVE", no_detail) for a in ADDRESSES]))
    assert got == expected
    assert (store.many, store.one, batcher.batches, batcher.answered) == (1, 0, 1, len(ADDRESSES))
    # answered from the cache now: no batch, no query
    again = asyncio.run(gather(batcher, [(a, "OFFICIAL-SENSITIVE", no_detail) for a in ADDRESSES]))
    assert again == expected
    assert (store.many, store.one, batcher.batches) == (1, 0, 1)


@pytest.mark.usefixtures("orgs")
def test_classifications_and_detail_rights_are_batched_apart(directory: Directory) -> None:
    batcher = LookupBatcher(directory.lookup)
    asks = [
        ("ops@suspended.co.uk", "OFFICIAL", no_detail),
        ("ops@suspended.co.uk", "OFFICIAL", all_detail),
        ("j.smith@wessex.gov.uk", None, no_detail),
        ("j.smith@wessex.gov.uk", "OFFICIAL", no_detail),
    ]
    hidden, shown, plain, official = asyncio.run(gather(batcher, asks))
    assert batcher.batches == 1 and batcher.answered == 4  # three groups: two of one address
    assert hidden["known"] is False and hidden["organisation"] is None
    assert shown["organisation"]["name"] == "Suspended Supplier"  # the admin sees why
    assert plain["classification"] is None and official["classification"] == "OFFICIAL"


@pytest.mark.usefixtures("orgs")
def test_a_bad_address_fails_only_its_own_request(directory: Directory) -> None:
    batcher = LookupBatcher(directory.lookup)
    bad = "not an address"
    asks = [(a, "OFFICIAL", no_detail) for a in ("j.smith@wessex.gov.uk", bad, "x@wessex.gov.uk")]
    first, error, third = asyncio.run(gather(batcher, asks))
    assert first["permitted"] is True and third["permitted"] is True
    with pytest.raises(DirectoryError) as alone:
        directory.lookup.lookup(bad, "OFFICIAL")
    assert isinstance(error, DirectoryError) and error.kind is ErrorKind.MALFORMED
    assert error.detail == alone.value.detail  # exactly what a lookup on its own says


@pytest.mark.usefixtures("orgs")
def test_an_unknown_classification_fails_each_request_that_named_it(
    directory: Directory,
) -> None:
    batcher = LookupBatcher(directory.lookup)
    asks = [(a, "MOST SECRET", no_detail) for a in ADDRESSES[:3]]
    asks.append(("j.smith@wessex.gov.uk", "OFFICIAL", no_detail))
    *errors, fine = asyncio.run(gather(batcher, asks))
    assert all(isinstance(e, DirectoryError) and e.kind is ErrorKind.MALFORMED for e in errors)
    assert fine["permitted"] is True


@pytest.mark.usefixtures("orgs")
def test_a_failing_store_fails_every_waiting_lookup_and_caches_nothing(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_addresses: Any) -> Any:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the directory store cannot answer")

    monkeypatch.setattr(directory.store.mailboxes, "find", broken)
    monkeypatch.setattr(directory.store.mailboxes, "find_one", broken)
    batcher = LookupBatcher(directory.lookup)
    got = asyncio.run(gather(batcher, [(a, "OFFICIAL", no_detail) for a in ADDRESSES[:4]]))
    assert all(isinstance(g, DirectoryError) and g.kind is ErrorKind.UNAVAILABLE for g in got)
    assert batcher.answered == 0
    assert directory.lookup.cached("j.smith@wessex.gov.uk", "OFFICIAL") is None


def test_callers_without_admin_scopes_share_one_detail_rule() -> None:
    lookup_only = detail_rule(Principal("a", frozenset({"lookup"})))
    assert lookup_only is detail_rule(Principal("b", frozenset({"lookup", "federation"})))
    assert lookup_only("any-org") is False
    admin = detail_rule(Principal("c", frozenset({"directory-admin"})))
    assert admin is detail_rule(Principal("d", frozenset({"directory-admin"}))) and admin(None)
    one, other = "0" * 8 + "-0000-4000-8000-" + "0" * 12, "1" * 8 + "-0000-4000-8000-" + "0" * 12
    org_admin = detail_rule(Principal("e", frozenset({f"org-admin:{one}"})))
    assert org_admin(one) is True and org_admin(other) is False and org_admin(None) is False


@pytest.mark.usefixtures("orgs")
def test_concurrent_http_lookups_are_batched_and_a_bad_one_is_a_400(
    app: FastAPI, directory: Directory, lookup_key: str
) -> None:
    async def run(addresses: list[str]) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://clearance") as client:
            return await asyncio.gather(
                *(
                    client.get(
                        "/v1/lookup",
                        params={"address": a, "classification": "OFFICIAL"},
                        headers=bearer(lookup_key),
                    )
                    for a in addresses
                )
            )

    def undated(answer: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in answer.items() if k != "checked_at"}

    expected = [undated(directory.lookup.lookup(a, "OFFICIAL")) for a in ADDRESSES]
    answers = asyncio.run(run(ADDRESSES))
    assert [r.status_code for r in answers] == [200] * len(ADDRESSES)
    assert [undated(r.json()) for r in answers] == expected
    batcher: LookupBatcher = app.state.lookups
    assert batcher.batches >= 1 and batcher.answered == len(ADDRESSES)

    *answers, bad = asyncio.run(run([*ADDRESSES, "two@@ats"]))
    assert [undated(r.json()) for r in answers] == expected
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert "two@@ats" in bad.json()["detail"]


# --- off the event loop, within a deadline --------------------------------------------------
@pytest.mark.usefixtures("orgs")
def test_batches_and_decisions_read_the_store_off_the_event_loop_thread(
    app: FastAPI, directory: Directory, lookup_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    finder = directory.store.mailboxes
    threads: list[str] = []
    real_many = finder.find

    def find(addresses: list[str]) -> Any:
        threads.append(threading.current_thread().name)
        return real_many(addresses)

    monkeypatch.setattr(finder, "find", find)

    async def run() -> tuple[list[httpx.Response], str]:
        transport = httpx.ASGITransport(app=app)
        headers = bearer(lookup_key)
        async with httpx.AsyncClient(transport=transport, base_url="http://clearance") as client:
            batch = client.post("/v1/lookups", json={"addresses": ADDRESSES}, headers=headers)
            decision = client.post(
                "/v1/decisions",
                json={"headers": "Subject: [OFFICIAL] x\n", "recipients": ADDRESSES[:2]},
                headers=headers,
            )
            done = await asyncio.gather(batch, decision)
        return list(done), threading.current_thread().name

    responses, loop_thread = asyncio.run(run())
    assert [r.status_code for r in responses] == [200, 200]
    assert len(threads) == 2 and loop_thread not in threads
    assert all(name.startswith("lookup") for name in threads), threads


def test_a_store_that_does_not_answer_in_time_is_a_failure_not_an_answer(
    directory: Directory, orgs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read the store does not answer by the deadline fails closed (unavailable); the thread
    that waited is released afterwards."""
    release = threading.Event()
    finder = directory.store.mailboxes
    real_many = finder.find

    def stuck_many(addresses: list[str]) -> Any:
        release.wait(30)
        return real_many(addresses)

    monkeypatch.setattr(finder, "find", stuck_many)
    batcher = LookupBatcher(directory.lookup, timeout=0.2)

    async def batch() -> Any:
        return await batcher.run(directory.lookup.lookup_many, ADDRESSES[:2], "OFFICIAL")

    try:
        with pytest.raises(DirectoryError) as caught:
            asyncio.run(batch())
        assert caught.value.kind is ErrorKind.UNAVAILABLE
        assert "within 0.2 s" in caught.value.detail
    finally:
        release.set()
        batcher.close()
