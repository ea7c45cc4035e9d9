"""The per-process answer cache (opt-in): used, emptied by a store change, off on a store
error; the gateway's caches bounded in bytes by charges that cover what an entry holds."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.gateway.resolver import TLS_COST, answer_cost
from api.gateway.server import Gateway
from directory import demo
from directory.cache import SeqCache
from directory.service import Directory
from tests.api.gateway.client import PolicyClient
from tests.api.gateway.test_servers import serve
from tests.conftest import ADMIN, BOOTS, boot_ticks

VERIFIED = "PREPEND X-Clearance: max=OFFICIAL-SENSITIVE; trust=accredited; policy=uk-gsc"
UNAVAILABLE = "451 4.3.0 Clearance: the directory cannot answer now, try again later"


@pytest.fixture(params=BOOTS)
def ticks(request: pytest.FixtureRequest) -> Callable[[], float]:
    """Every test here, on a host booted a moment ago and on one up for months."""
    return boot_ticks(request.param)


def wessex_id(directory: Directory) -> str:
    domain = directory.store.domain_by_name("wessex.gov.uk")
    assert domain is not None
    return domain.organisation_id


async def settle(gw: Gateway) -> None:
    """Long enough for the resolver to have read the change sequence again."""
    await asyncio.sleep(gw.resolver.refresh_seconds * 2 + 0.2)


def test_repeated_recipients_are_answered_from_the_cache(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        await settle(gw)
        client = await PolicyClient.connect(gw.policy_port)
        for _ in range(3):
            assert await client.ask("j.smith@wessex.gov.uk") == VERIFIED
        await client.close()
        assert (gw.resolver.hits, gw.resolver.misses) == (2, 1)

    serve(demo_directory, scenario, answer_cache_entries=100)


def test_a_suspension_shows_within_the_refresh_interval(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        await settle(gw)
        client = await PolicyClient.connect(gw.policy_port)
        assert await client.ask("j.smith@wessex.gov.uk") == VERIFIED
        await asyncio.to_thread(
            demo_directory.registration.set_status,
            ADMIN,
            wessex_id(demo_directory),
            "suspended",
            "test",
        )
        await settle(gw)
        after = await client.ask("j.smith@wessex.gov.uk")
        await client.close()
        assert after.startswith("550 5.7.1 "), after

    serve(demo_directory, scenario, mode="enforce-known", answer_cache_entries=100)


def test_a_store_error_stops_answers_from_the_cache(demo_directory: Directory) -> None:
    database = demo_directory.settings.home / "clearance.db"

    async def scenario(gw: Gateway) -> None:
        await settle(gw)
        client = await PolicyClient.connect(gw.policy_port)
        assert await client.ask("j.smith@wessex.gov.uk") == VERIFIED
        assert gw.resolver.cached_answers == 1
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE recipients RENAME TO recipients_gone")
        assert await client.ask("a.jones@casterbridge.gov.uk") == UNAVAILABLE
        assert gw.resolver.cached_answers == 0
        hits = gw.resolver.hits
        await client.ask("j.smith@wessex.gov.uk")  # to the store (the lookup's own answer aside)
        await client.close()
        assert gw.resolver.hits == hits

    serve(demo_directory, scenario, mode="tag", answer_cache_entries=100)


def test_the_cache_is_off_by_default(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        await settle(gw)
        client = await PolicyClient.connect(gw.policy_port)
        for _ in range(2):
            assert await client.ask("j.smith@wessex.gov.uk") == VERIFIED
        await client.close()
        assert gw.resolver.hits == 0

    serve(demo_directory, scenario)


def held_per_entry(entries: Callable[[], Iterator[tuple[str, Any, int]]]) -> tuple[float, float]:
    """(bytes tracemalloc sees the cache keep alive, bytes charged), per entry. `entries`
    yields (key, value, cost); it is run once first so that whatever it memoises elsewhere (the
    lookup's own tables) is not counted."""
    for _ in entries():
        pass
    cache: SeqCache[str, Any] = SeqCache(10**9, 10**12, ttl=30.0)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        count = 0
        for key, value, cost in entries():
            cache.put(key, value, 1, 0.0, cost)
            count += 1
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / count, cache.bytes / count


def test_the_byte_charges_cover_what_a_cache_entry_holds(demo_directory: Directory) -> None:
    """The estimates the byte bounds rest on, against memory measured: an answer (its own
    top-level dict and certificates list; the rest is shared), with and without certificates,
    and a TLS-policy entry with a key as long as a domain name can be."""
    lookup = demo_directory.lookup
    demo.demo_certificate(demo_directory)

    def answers(template: str) -> Callable[[], Iterator[tuple[str, Any, int]]]:
        def run() -> Iterator[tuple[str, Any, int]]:
            for n in range(2000):
                address = template.format(n=n)
                answer = lookup.lookup(address)
                key = f"{n}/{address}"  # as Postfix sent it: a string of its own, one per entry
                yield key, answer, answer_cost(key, answer)

        return run

    plain = answers("someone.{n}@wessex.gov.uk")
    with_certificate = answers("j.smith@wessex.gov.uk")
    assert lookup.lookup("j.smith@wessex.gov.uk")["certificates"]
    for case in (plain, with_certificate):
        held, charged = held_per_entry(case)
        assert held <= charged <= 3 * held, (held, charged)

    def tls() -> Iterator[tuple[str, Any, int]]:
        for n in range(2000):
            key = f"{n:05}" + "a" * 57 + ("." + "b" * 63) * 3  # 253 characters
            yield key, None, TLS_COST + len(key)

    held, charged = held_per_entry(tls)
    assert held <= charged <= 3 * held, (held, charged)
