"""The per-process answer cache (opt-in): used, emptied by a store change, off on a store error."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

import pytest

from api.gateway.server import Gateway
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
