"""The policy and socketmap servers in process, over the demo directory (real sockets)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from api.gateway.resolver import TLS_COST
from api.gateway.server import Gateway, gateway_rules
from directory.service import Directory
from tests.api.gateway.client import PolicyClient, SocketmapClient

Scenario = Callable[[Gateway], Awaitable[None]]


SCENARIO_SECONDS = 120.0  # each takes about a second: a hang fails here, not at pytest's 600 s


def serve(directory: Directory, scenario: Scenario, **overrides: Any) -> None:
    async def main() -> None:
        gateway = Gateway(directory, gateway_rules(directory, **overrides))
        await gateway.start("127.0.0.1", 0, 0)
        try:
            await asyncio.wait_for(scenario(gateway), SCENARIO_SECONDS)
        finally:
            await asyncio.wait_for(gateway.stop(), 30.0)

    asyncio.run(main())


def test_tag_mode_prepends_the_header_and_never_rejects(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await PolicyClient.connect(gw.policy_port)
        verified = await client.ask("j.smith@wessex.gov.uk")
        unknown = await client.ask("nobody@example.org")
        await client.close()
        assert verified == (
            "PREPEND X-Clearance: max=OFFICIAL-SENSITIVE; trust=accredited; policy=uk-gsc"
        )
        assert unknown == "PREPEND X-Clearance: max=none; trust=none; policy=uk-gsc"

    serve(demo_directory, scenario, mode="tag")


def test_enforce_known_rejects_unverified_with_the_reason_code(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await PolicyClient.connect(gw.policy_port)
        ok = await client.ask("anyone@wessex.gov.uk")
        applied = await client.ask("info@melchesterfoodbank.org.uk")
        suspended = await client.ask("ops@anglebury-cases.co.uk")
        bad = await client.ask("not an address")
        await client.close()
        assert ok.startswith("PREPEND X-Clearance: max=OFFICIAL-SENSITIVE;")
        assert applied == "550 5.7.1 Clearance: recipient is not verified (recipient.not-verified)"
        assert suspended.startswith("550 5.7.1 ")
        assert bad.startswith("550 5.1.3 Clearance: ")

    serve(demo_directory, scenario, mode="enforce-known")


def test_enforce_minimum_names_what_stops_the_minimum(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await PolicyClient.connect(gw.policy_port)
        ok = await client.ask("j.smith@wessex.gov.uk")
        testing = await client.ask("someone@dcs.gov.uk")
        await client.close()
        assert ok.startswith("PREPEND X-Clearance: max=OFFICIAL-SENSITIVE;")
        assert testing == (
            "550 5.7.1 Clearance: recipient may receive OFFICIAL, not the minimum "
            "OFFICIAL-SENSITIVE (posture.transport)"
        )

    serve(demo_directory, scenario, mode="enforce-minimum", minimum="OFFICIAL-SENSITIVE")


def test_non_rcpt_states_and_other_requests(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await PolicyClient.connect(gw.policy_port)
        data = await client.ask("nobody@example.org", protocol_state="DATA")
        other = await client.ask("nobody@example.org", request="junk")
        await client.close()
        assert data == "DUNNO"
        assert other.startswith("451 4.3.5 ")

    serve(demo_directory, scenario, mode="enforce-known")


def test_malformed_policy_input_drops_the_connection(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.policy_port)
        writer.write(b"this is not a policy request\n\n")
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()

    serve(demo_directory, scenario)


def test_a_broken_store_defers_never_accepts(demo_directory: Directory) -> None:
    database = demo_directory.settings.home / "clearance.db"

    async def scenario(gw: Gateway) -> None:
        client = await PolicyClient.connect(gw.policy_port)
        assert (await client.ask("j.smith@wessex.gov.uk")).startswith("PREPEND")
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE recipients RENAME TO recipients_gone")
        reply = await client.ask("j.smith@wessex.gov.uk")
        await client.close()
        assert reply == "451 4.3.0 Clearance: the directory cannot answer now, try again later"

    serve(demo_directory, scenario, mode="tag")


def test_a_slow_store_defers_within_the_timeout(
    demo_directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = demo_directory.lookup.lookup_many

    def slow(*args: Any, **kwargs: Any) -> Any:
        import time

        time.sleep(0.6)
        return real(*args, **kwargs)

    async def scenario(gw: Gateway) -> None:
        monkeypatch.setattr(demo_directory.lookup, "lookup_many", slow)
        client = await PolicyClient.connect(gw.policy_port)
        started = asyncio.get_running_loop().time()
        reply = await client.ask("j.smith@wessex.gov.uk")
        waited = asyncio.get_running_loop().time() - started
        await client.close()
        assert reply.startswith("451 4.3.0 ")
        assert waited < 0.6

    serve(demo_directory, scenario, mode="enforce-known", lookup_timeout_seconds=0.2)


def test_tlspolicy_map_answers_per_domain(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        answers = {
            d: await client.ask("tlspolicy", d)
            for d in (
                "wessex.gov.uk",
                "casterbridge.gov.uk",
                "wessex.police.uk",
                "example.org",
                "[mx.wessex.gov.uk]:25",
                ".wessex.gov.uk",
                "WESSEX.GOV.UK",
            )
        }
        await client.close()
        assert answers == {
            "wessex.gov.uk": "OK secure",  # MTA-STS enforce
            "casterbridge.gov.uk": "OK dane-only",  # DANE
            "wessex.police.uk": "OK dane-only",
            "example.org": "NOTFOUND ",
            "[mx.wessex.gov.uk]:25": "NOTFOUND ",
            ".wessex.gov.uk": "NOTFOUND ",
            "WESSEX.GOV.UK": "OK secure",
        }

    serve(demo_directory, scenario)


def test_tlspolicy_is_notfound_when_the_classification_needs_no_protection(
    demo_directory: Directory,
) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        answer = await client.ask("tlspolicy", "wessex.gov.uk")
        await client.close()
        assert answer == "NOTFOUND "

    serve(demo_directory, scenario, tls_classification="OFFICIAL")


def test_tlspolicy_follows_register_changes(demo_directory: Directory) -> None:
    from tests.conftest import ADMIN

    domain = demo_directory.store.domain_by_name("wessex.gov.uk")
    assert domain is not None

    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        assert await client.ask("tlspolicy", "wessex.gov.uk") == "OK secure"
        demo_directory.registration.record_posture(
            ADMIN, domain.id, evidence="DANE deployed", dane=True, tls=True, dmarc="reject"
        )
        await asyncio.sleep(gw.resolver.refresh_seconds * 3)
        assert await client.ask("tlspolicy", "wessex.gov.uk") == "OK dane-only"
        await client.close()

    serve(demo_directory, scenario)


def test_tlspolicy_answers_temp_when_the_register_is_stale(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        gw.resolver._snapshot_at -= 3600  # as if no refresh had succeeded for an hour
        answer = await client.ask("tlspolicy", "wessex.gov.uk")
        await client.close()
        assert answer.startswith("TEMP ")

    serve(demo_directory, scenario)


def test_recipient_map(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        verified = await client.ask("recipient", "j.smith@wessex.gov.uk")
        unknown = await client.ask("recipient", "nobody@example.org")
        junk = await client.ask("recipient", "junk")
        other = await client.ask("nosuchmap", "x")
        await client.close()
        assert (verified, unknown, junk) == ("OK OK", "NOTFOUND ", "NOTFOUND ")
        assert other.startswith("PERM ")

    serve(demo_directory, scenario)


def test_malformed_netstring_gets_perm_and_a_closed_connection(demo_directory: Directory) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        answer = await client.raw(b"12345678:")
        assert answer.startswith("PERM ")
        assert await client.reader.read() == b""
        await client.close()

    serve(demo_directory, scenario)


def test_many_concurrent_connections_get_their_own_answers(demo_directory: Directory) -> None:
    addresses = ["j.smith@wessex.gov.uk", "nobody@example.org", "someone@dcs.gov.uk"] * 20

    async def one(port: int, address: str) -> tuple[str, str]:
        client = await PolicyClient.connect(port)
        try:
            return address, await client.ask(address)
        finally:
            await client.close()

    async def scenario(gw: Gateway) -> None:
        results = await asyncio.gather(*(one(gw.policy_port, a) for a in addresses))
        for address, action in results:
            expected = {
                "j.smith@wessex.gov.uk": "max=OFFICIAL-SENSITIVE",
                "nobody@example.org": "max=none",
                "someone@dcs.gov.uk": "max=OFFICIAL;",
            }[address]
            assert expected in action

    serve(demo_directory, scenario)


def test_an_internal_error_defers_and_never_bounces(
    demo_directory: Directory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault of ours (here: a bug in address parsing) is a 451 deferral and a socketmap TEMP,
    logged once at the gateway; never 550 5.1.3 as if the sender had given a bad address."""

    def broken(_raw: str) -> None:
        raise RuntimeError("a bug, not a bad address")

    async def scenario(gw: Gateway) -> None:
        monkeypatch.setattr("directory.lookup.normalise", broken)
        policy = await PolicyClient.connect(gw.policy_port)
        reply = await policy.ask("j.smith@wessex.gov.uk")
        await policy.close()
        maps = await SocketmapClient.connect(gw.socketmap_port)
        recipient = await maps.ask("recipient", "j.smith@wessex.gov.uk")
        monkeypatch.setattr(gw.resolver, "_tls_value", broken_tls)
        tls = await maps.ask("tlspolicy", "wessex.gov.uk")
        await maps.close()
        assert reply == "451 4.3.0 Clearance: the directory cannot answer now, try again later"
        assert recipient.startswith("TEMP ") and tls.startswith("TEMP ")

    def broken_tls(*_args: Any) -> None:
        raise RuntimeError("a bug in the TLS policy")

    with caplog.at_level("ERROR"):
        serve(demo_directory, scenario, mode="enforce-known")
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 3  # once per failure, at the gateway
    assert {type(r.exc_info[1]).__name__ for r in logged if r.exc_info} == {"RuntimeError"}


def test_tlspolicy_keys_that_cannot_be_domains_stay_out_of_the_cache(
    demo_directory: Directory,
) -> None:
    async def scenario(gw: Gateway) -> None:
        client = await SocketmapClient.connect(gw.socketmap_port)
        for n in range(50):
            key = f"{n}-" + "x" * 4000  # longer than any domain name
            assert await client.ask("tlspolicy", key) == "NOTFOUND "
        assert await client.ask("tlspolicy", "[mx.wessex.gov.uk]:25") == "NOTFOUND "
        assert await client.ask("tlspolicy", "wessex.gov.uk") == "OK secure"
        await client.close()
        assert set(gw.resolver._tls_cache.entries) == {"wessex.gov.uk"}
        assert gw.resolver._tls_cache.bytes == TLS_COST + len("wessex.gov.uk")

    serve(demo_directory, scenario)
