"""Import: a peer's list is verified with THAT peer's key, checked whole, and refused whole;
the local register and other peers keep their domains. A failure changes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.federation.trustlist import envelope
from directory.store.writer import Writer
from pki.signing import b64url, generate_signing_key, public_key_pem
from tests.conftest import ADMIN
from tests.directory.federation.conftest import Pair
from tests.directory.test_lookup import register


def state(pair: Pair) -> tuple[Any, ...]:
    """Everything an import could change in B."""
    peers = pair.federation.peers(ADMIN)
    return pair.b.store.state(), pair.b.store.verify_audit(), json.dumps(peers)


def refused(pair: Pair, raw: bytes, kind: ErrorKind = ErrorKind.MALFORMED, peer: str = "wessex"):
    before = state(pair)
    with pytest.raises(DirectoryError) as caught:
        pair.import_(raw, peer)
    assert caught.value.kind is kind, caught.value.detail
    assert state(pair) == before  # nothing written
    return caught.value


def test_import_reports_and_counts(pair: Pair) -> None:
    report = pair.import_(pair.signed())
    assert (report.domains, report.mailboxes, report.skipped) == (7, 8, [])
    assert report.directory == "wessex-region"
    (peer,) = pair.federation.peers(ADMIN)
    assert (peer["domains"], peer["mailboxes"]) == (7, 8)
    assert peer["list_digest"] == report.digest
    entries = pair.b.store.audit_entries(limit=100)
    assert [e.action for e in entries][-2:] == [
        "federation.list-import",
        "federation.list-import-report",
    ]
    assert pair.b.store.verify_audit()[1] == []


def test_import_bumps_the_register_sequence(pair: Pair) -> None:
    before = pair.b.store.state()
    pair.import_(pair.signed())
    after = pair.b.store.state()
    assert after.register_seq > before.register_seq and after.seq > before.seq


def _flip(raw: bytes) -> bytes:
    env = json.loads(raw)
    payload = bytearray(base64.urlsafe_b64decode(env["payload"] + "=="))
    payload[len(payload) // 2] ^= 0x01
    env["payload"] = b64url(bytes(payload))
    return json.dumps(env).encode()


def test_a_changed_payload_byte_is_refused(pair: Pair) -> None:
    error = refused(pair, _flip(pair.signed()))
    assert "signature" in error.detail


def test_a_list_signed_by_another_key_is_refused(pair: Pair) -> None:
    other = generate_signing_key()
    env = json.loads(pair.signed(key=other))
    env["key_id"] = json.loads(pair.signed())["key_id"]  # claims the peer's key
    error = refused(pair, json.dumps(env).encode())
    assert "does not verify" in error.detail


def test_a_list_naming_another_key_id_is_refused(pair: Pair) -> None:
    other = generate_signing_key()
    error = refused(pair, pair.signed(key=other))
    assert "not peer 'wessex'" in error.detail


def test_replay_and_rollback_are_refused(pair: Pair) -> None:
    older = pair.signed()
    pair.later(60)
    newer = pair.signed()
    pair.import_(newer)
    refused(pair, newer, ErrorKind.CONFLICT)  # the same list again
    refused(pair, older, ErrorKind.CONFLICT)  # an older one
    pair.later(60)
    assert pair.import_(pair.signed()).domains == 7  # a newer one is fine


def test_an_expired_list_is_refused(pair: Pair) -> None:
    raw = pair.signed(pair.payload(valid_seconds=600))
    pair.later(601)
    error = refused(pair, raw)
    assert "expired" in error.detail


def test_a_list_from_the_future_is_refused(pair: Pair) -> None:
    pair.later(301)
    raw = pair.signed()
    pair.later(-301)
    refused(pair, raw)
    pair.later(2)  # within the 300 s skew
    assert pair.import_(raw).domains == 7


def _tamper(pair: Pair, change: Callable[[dict[str, Any]], None]) -> bytes:
    payload = pair.payload()
    change(payload)
    return pair.signed(payload)


def _first(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda p: next(e for e in p["entries"] if e["domain"] == name)


WESSEX = _first("wessex.gov.uk")


@pytest.mark.parametrize(
    "change",
    [
        lambda p: WESSEX(p)["mailboxes"].append(
            {"address": "not an address", "role": "person", "mailbox_verified": True}
        ),
        lambda p: WESSEX(p)["mailboxes"].append(
            {"address": "x@elsewhere.gov.uk", "role": "person", "mailbox_verified": True}
        ),
        lambda p: WESSEX(p)["mailboxes"].append(
            {"address": "x@wessex.gov.uk", "role": "boss", "mailbox_verified": True}
        ),
        lambda p: WESSEX(p).update(domain="bad domain!"),
        lambda p: WESSEX(p).update(trust_level="total"),
        lambda p: WESSEX(p).update(domain_wide="yes"),
        lambda p: WESSEX(p)["posture"].update(dmarc="maybe"),
        lambda p: p["entries"].append(dict(WESSEX(p))),  # listed twice
        lambda p: p.update(format="clearance-trust-list/2"),
        lambda p: p.update(issued_at="yesterday"),
        lambda p: p.update(entries={}),
    ],
    ids=[
        "bad-address",
        "foreign-address",
        "bad-role",
        "bad-domain",
        "bad-trust",
        "bad-bool",
        "bad-dmarc",
        "duplicate",
        "format",
        "issued-at",
        "entries",
    ],
)
def test_one_malformed_entry_refuses_the_whole_list(
    pair: Pair, change: Callable[[dict[str, Any]], None]
) -> None:
    refused(pair, _tamper(pair, change))


@pytest.mark.parametrize(
    "raw",
    [b"", b"[]", b"{}", b"not json", b'{"payload": "", "signature": "", "key_id": 1}'],
)
def test_a_malformed_envelope_is_refused(pair: Pair, raw: bytes) -> None:
    refused(pair, raw)


def test_the_size_is_bounded(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    from directory.federation import importer

    monkeypatch.setattr(importer, "MAX_LIST_BYTES", 100)
    refused(pair, pair.signed())
    monkeypatch.setattr(importer, "MAX_LIST_BYTES", 64 * 1024 * 1024)
    monkeypatch.setattr(importer, "MAX_DOMAINS", 3)
    refused(pair, pair.signed())


def test_names_are_normalised(pair: Pair) -> None:
    payload = pair.payload()
    entry = WESSEX(payload)
    entry["domain"] = "WESSEX.gov.uk."
    entry["mailboxes"][1]["address"] = "J.Smith@Wessex.GOV.uk"
    pair.import_(pair.signed(payload))
    assert pair.look("j.smith@wessex.gov.uk")["matched"] == "federated"


def test_local_domains_are_skipped_and_stay_local(pair: Pair) -> None:
    register(pair.b, "Wessex CC (B's own)", "wessex.gov.uk", domain_wide=True)
    report = pair.import_(pair.signed())
    assert report.skipped == [{"domain": "wessex.gov.uk", "reason": "local-domain"}]
    assert report.domains == 6
    answer = pair.look("j.smith@wessex.gov.uk")
    assert answer["matched"] == "domain"
    assert answer["organisation"]["name"] == "Wessex CC (B's own)"


def test_a_domain_another_peer_lists_is_skipped(pair: Pair) -> None:
    other = generate_signing_key()
    pair.federation.add_peer(ADMIN, "nhs", public_key_pem(other), permitted=["nhs.uk"])
    payload = pair.payload()
    payload["entries"] = [e for e in payload["entries"] if e["domain"] == "cwh.nhs.uk"]
    pair.import_(json.dumps(envelope(payload, other)).encode(), "nhs")
    report = pair.import_(pair.signed())
    assert report.skipped == [
        {"domain": "cwh.nhs.uk", "reason": "listed-by-another-peer", "peer": "nhs"}
    ]
    assert pair.look("safeguarding@cwh.nhs.uk")["organisation"]["directory"] == "nhs"


def test_an_untrusted_or_unknown_entry_is_skipped(pair: Pair) -> None:
    payload = pair.payload()
    _first("dcs.gov.uk")(payload)["trust_level"] = "none"
    _first("cwh.nhs.uk")(payload)["organisation"]["sector"] = "space-agency"
    _first("budmouth.gov.uk")(payload)["ceiling"] = "COSMIC"
    report = pair.import_(pair.signed(payload))
    assert sorted((s["domain"], s["reason"]) for s in report.skipped) == [
        ("budmouth.gov.uk", "ceiling-unknown"),
        ("cwh.nhs.uk", "sector-unknown"),
        ("dcs.gov.uk", "not-trusted"),
    ]
    assert pair.look("someone@dcs.gov.uk")["known"] is False


def test_a_suspended_peer_cannot_import(pair: Pair) -> None:
    pair.federation.suspend(ADMIN, "wessex")
    refused(pair, pair.signed(), ErrorKind.CONFLICT)


def test_an_unknown_peer(pair: Pair) -> None:
    refused(pair, pair.signed(), ErrorKind.NOT_FOUND, peer="nobody")


def test_a_store_failure_half_way_writes_nothing(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.import_(pair.signed())
    pair.later(60)
    before = state(pair)

    def broken(self: Writer, *args: Any, **kwargs: Any) -> None:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the store broke")

    monkeypatch.setattr(Writer, "audit", broken)
    with pytest.raises(DirectoryError):
        pair.import_(pair.signed())
    monkeypatch.undo()
    assert state(pair) == before
    assert pair.look("j.smith@wessex.gov.uk")["known"] is True  # the earlier list stands


def test_a_list_counts_for_at_most_the_importers_own_bound(pair: Pair) -> None:
    """A peer naming a valid_until years away is believed for at most
    federation_max_list_accept_seconds (7 days by default)."""
    ten_years = 10 * 365 * 86400
    report = pair.import_(pair.signed(pair.payload(valid_seconds=ten_years)))
    bound = pair.clock() + timedelta(seconds=pair.b.settings.federation_max_list_accept_seconds)
    assert report.valid_until == bound
    assert pair.look("j.smith@wessex.gov.uk")["known"] is True
    pair.later(pair.b.settings.federation_max_list_accept_seconds + 1)
    assert pair.look("j.smith@wessex.gov.uk")["known"] is False  # expired at the bound
