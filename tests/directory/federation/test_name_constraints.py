"""Name constraints: each peer speaks only for the domain suffixes it was added with. An entry
outside them is refused at import and reported, so a peer cannot claim (and so block) a domain
that belongs to another peer's community, first come first served."""

from __future__ import annotations

import json
import logging

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.federation.importer import import_list
from directory.federation.peers import parse_permitted
from directory.federation.records import permits
from directory.federation.trustlist import envelope
from pki.signing import generate_signing_key, public_key_pem
from tests.conftest import ADMIN
from tests.directory.federation.conftest import Pair


def test_a_suffix_covers_itself_and_the_names_under_it() -> None:
    assert permits(("nhs.uk",), "nhs.uk") and permits(("nhs.uk",), "cwh.nhs.uk")
    assert not permits(("nhs.uk",), "notnhs.uk") and not permits(("nhs.uk",), "nhs.uk.evil.com")
    assert permits(("uk",), "wessex.gov.uk") and not permits(("uk",), "wessex.gov")
    assert not permits((), "nhs.uk")


def test_suffixes_are_normalised_and_checked() -> None:
    assert parse_permitted(["NHS.UK.", ".gov.uk", "nhs.uk", "UK"]) == ("gov.uk", "nhs.uk", "uk")
    assert parse_permitted(["bücher.example"]) == ("xn--bcher-kva.example",)
    for bad in ([], ["not a domain"], ["."], [""], ["a..b"], ["x" * 300]):
        with pytest.raises(DirectoryError) as caught:
            parse_permitted(bad)
        assert (
            caught.value.kind is ErrorKind.MALFORMED and caught.value.extra["field"] == "permitted"
        )


def test_a_peer_cannot_take_a_domain_outside_its_constraints(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    """The hostile case: a peer for `rogue.example` lists cwh.nhs.uk before its rightful
    peer does. Without constraints it would hold the domain and block the rightful list."""
    rogue = generate_signing_key()
    pair.federation.add_peer(ADMIN, "rogue", public_key_pem(rogue), permitted=["rogue.example"])
    payload = pair.payload()
    payload["entries"] = [e for e in payload["entries"] if e["domain"] == "cwh.nhs.uk"]
    with caplog.at_level(logging.WARNING, "directory.federation.service"):
        report = pair.import_(json.dumps(envelope(payload, rogue)).encode(), "rogue")
    assert report.skipped == [{"domain": "cwh.nhs.uk", "reason": "outside-name-constraints"}]
    assert report.domains == 0
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "rogue" in warnings[0] and "cwh.nhs.uk" in warnings[0]
    assert pair.look("safeguarding@cwh.nhs.uk")["known"] is False

    rightful = pair.import_(pair.signed())
    assert rightful.skipped == [] and rightful.domains == 7
    assert pair.look("safeguarding@cwh.nhs.uk")["organisation"]["directory"] == "wessex"


def test_a_partly_permitted_list_keeps_the_permitted_entries(pair: Pair) -> None:
    pair.federation.constrain(ADMIN, "wessex", ["nhs.uk", "police.uk"])
    report = pair.import_(pair.signed())
    assert report.domains == 2  # cwh.nhs.uk, wessex.police.uk
    outside = sorted(s["domain"] for s in report.skipped)
    assert outside == [
        "budmouth.gov.uk",
        "casterbridge.gov.uk",
        "casterbridgeyoungcarers.org.uk",
        "dcs.gov.uk",
        "wessex.gov.uk",
    ]
    assert {s["reason"] for s in report.skipped} == {"outside-name-constraints"}
    assert pair.look("anyone@wessex.gov.uk")["known"] is False
    assert pair.look("safeguarding@cwh.nhs.uk")["known"] is True


def test_narrowing_the_constraints_drops_what_falls_outside_at_once(pair: Pair) -> None:
    pair.import_(pair.signed())
    assert pair.look("anyone@wessex.gov.uk")["matched"] == "federated"
    before = pair.b.store.state().register_seq
    peer = pair.federation.constrain(ADMIN, "wessex", ["NHS.uk"])
    assert peer.permitted == ("nhs.uk",)
    assert pair.b.store.state().register_seq > before
    assert pair.federation.store.counts(peer.id) == (1, 1)
    assert pair.look("anyone@wessex.gov.uk")["known"] is False
    assert pair.look("safeguarding@cwh.nhs.uk")["matched"] == "federated"
    assert pair.b.store.verify_audit()[1] == []
    described = pair.federation.describe(peer)
    assert described["permitted"] == ["nhs.uk"] and described["domains"] == 1


def test_bad_constraints_change_nothing(pair: Pair) -> None:
    before = pair.b.store.state()
    for bad in ([], ["not a domain"]):
        with pytest.raises(DirectoryError) as caught:
            pair.federation.constrain(ADMIN, "wessex", bad)
        assert caught.value.kind is ErrorKind.MALFORMED
    with pytest.raises(DirectoryError) as caught:
        pair.federation.add_peer(ADMIN, "other", public_key_pem(generate_signing_key()))
    assert caught.value.kind is ErrorKind.MALFORMED and caught.value.extra["field"] == "permitted"
    assert pair.b.store.state() == before


def test_constraints_changed_during_an_import_refuse_it(pair: Pair) -> None:
    """The import checks against the constraints it read; if they changed before its write
    transaction, the write refuses rather than store entries checked against old ones."""
    stale = pair.federation.peer(ADMIN, "wessex")
    pair.federation.constrain(ADMIN, "wessex", ["nhs.uk"])
    before = pair.b.store.state()
    with pytest.raises(DirectoryError) as caught:
        import_list(pair.federation.store, pair.b.policy, stale, pair.signed(), "t", pair.clock())
    assert caught.value.kind is ErrorKind.CONFLICT and "constraints" in caught.value.detail
    assert pair.b.store.state() == before
    assert pair.federation.peer(ADMIN, "wessex").permitted == ("nhs.uk",)
