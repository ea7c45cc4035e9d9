"""Lookup of federated entries in B, under B's policy: matched "federated", capped by the peer's
max_trust, unknown when the peer is suspended or its list expired, never valid past the list."""

from __future__ import annotations

from datetime import datetime

import pytest

from directory.lookup import all_detail, no_detail
from directory.store import tables as t
from pki.signing import public_key_pem
from tests.conftest import ADMIN
from tests.directory.federation.conftest import Pair
from tests.directory.test_lookup import register
from tests.directory.test_lookup_memo import assert_same, cached, demo_addresses
from tests.support.answers import ANSWER_KEYS


def codes(answer: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in answer["reasons"]:
        out.setdefault(r["classification"], set()).add(r["code"])
    return out


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_federated_mailbox_answers_under_the_local_policy(pair: Pair) -> None:
    pair.import_(pair.signed())
    answer = pair.look("J.Smith@wessex.gov.uk", "OFFICIAL")
    assert set(answer) == ANSWER_KEYS
    assert answer["known"] is True and answer["matched"] == "federated"
    assert answer["permitted"] is True
    assert answer["trust_level"] == "organisation-verified"  # accredited in A, capped in B
    assert answer["max_classification"] == "OFFICIAL"
    assert answer["organisation"] == {
        "id": pair.a.store.domain_by_name("wessex.gov.uk").organisation_id,  # type: ignore[union-attr]
        "name": "Wessex County Council",
        "sector": "local-government",
        "directory": "wessex",
    }
    assert answer["certificates"] == []  # never a certificate from a peer
    assert codes(answer)["OFFICIAL-SENSITIVE"] == {"federation.capped-by-peer"}


def test_the_peer_cap_decides(pair: Pair) -> None:
    pair.federation.remove(ADMIN, "wessex")
    pair.federation.add_peer(ADMIN, "wessex", public_key_pem(pair.key), max_trust="accredited",
                               permitted=["uk"])  # fmt: skip
    pair.import_(pair.signed())
    answer = pair.look("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert answer["trust_level"] == "accredited"
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE" and answer["permitted"] is True


def test_domain_wide_exclusions_and_unlisted_mailboxes(pair: Pair) -> None:
    pair.import_(pair.signed())
    assert pair.look("anyone@wessex.gov.uk")["max_classification"] == "OFFICIAL"
    assert pair.look("noreply@wessex.gov.uk")["known"] is False
    # casterbridge.gov.uk has no domain-wide entry: only its listed mailboxes are known
    assert pair.look("a.jones@casterbridge.gov.uk")["known"] is True
    assert pair.look("someone@casterbridge.gov.uk")["known"] is False
    # a system mailbox: the local policy's roles apply to what the peer listed
    alerts = pair.look("alerts@casterbridge.gov.uk", "OFFICIAL")
    assert alerts["permitted"] is True


def test_untrusted_at_the_peer_never_arrives(pair: Pair) -> None:
    pair.import_(pair.signed())
    for address in ("ops@anglebury-cases.co.uk", "x@melchesterfoodbank.org.uk"):
        assert pair.look(address, detail=all_detail)["known"] is False


def test_a_suspended_peer_counts_for_nothing(pair: Pair) -> None:
    pair.import_(pair.signed())
    assert pair.look("j.smith@wessex.gov.uk")["known"] is True
    pair.federation.suspend(ADMIN, "wessex")
    answer = pair.look("j.smith@wessex.gov.uk", "OFFICIAL")
    assert answer["known"] is False and answer["permitted"] is False
    assert answer == {**pair.look("x@nowhere.example", "OFFICIAL"), "address": answer["address"]}
    pair.federation.resume(ADMIN, "wessex")
    assert pair.look("j.smith@wessex.gov.uk", "OFFICIAL")["permitted"] is True


def test_a_removed_peer_leaves_nothing_behind(pair: Pair) -> None:
    pair.import_(pair.signed())
    pair.federation.remove(ADMIN, "wessex")
    assert pair.look("j.smith@wessex.gov.uk")["known"] is False
    assert pair.b.store.count(t.federated_domains) == 0
    assert pair.b.store.count(t.federated_mailboxes) == 0
    assert pair.b.store.verify_audit()[1] == []


def test_list_expiry_caps_valid_until_then_answers_unknown(pair: Pair) -> None:
    pair.import_(pair.signed(pair.payload(valid_seconds=1800)))  # shorter than answers (3600)
    listed_until = pair.federation.peers(ADMIN)[0]["list_valid_until"]
    answer = pair.look("j.smith@wessex.gov.uk", "OFFICIAL")
    assert answer["permitted"] is True
    assert when(answer["valid_until"]) == when(listed_until)
    pair.later(1799)
    assert pair.look("j.smith@wessex.gov.uk", "OFFICIAL")["permitted"] is True
    pair.later(1)
    expired = pair.look("j.smith@wessex.gov.uk", "OFFICIAL")
    assert expired["known"] is False and expired["permitted"] is False
    assert codes(expired)["OFFICIAL"] == {"recipient.not-verified"}  # no detail: as unknown
    detailed = pair.look("j.smith@wessex.gov.uk", "OFFICIAL", detail=all_detail)
    assert codes(detailed)["OFFICIAL"] == {"federation.list-expired"}


def test_the_peer_posture_ages_by_the_local_policy(pair: Pair) -> None:
    pair.federation.remove(ADMIN, "wessex")
    pair.federation.add_peer(ADMIN, "wessex", public_key_pem(pair.key), max_trust="accredited",
                               permitted=["uk"])  # fmt: skip
    pair.later(7 * 86400)  # A's posture was checked at the start; B allows 8 days
    pair.a.lookup.snapshots.invalidate()
    pair.import_(pair.signed(pair.payload(valid_seconds=3 * 86400)))
    fresh = pair.look("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert fresh["permitted"] is True
    pair.later(86400)
    stale = pair.look("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert stale["permitted"] is False
    assert "posture.stale" in codes(stale)["OFFICIAL-SENSITIVE"]


def test_batch_lookups_match_federated_entries(pair: Pair) -> None:
    pair.import_(pair.signed())
    answers = pair.b.lookup.lookup_many(
        ["j.smith@wessex.gov.uk", "noreply@wessex.gov.uk", "x@nowhere.example"], "OFFICIAL"
    )
    assert [a["permitted"] for a in answers] == [True, False, False]
    assert answers[0]["matched"] == "federated"


# --- the reason codes a federated answer gives (test_evaluation checks every code is here) ---
FEDERATION_CASES = [
    # (address, classification whose reasons are checked, the code expected among them)
    ("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE", "federation.capped-by-peer"),
    ("finance@budmouth.gov.uk", "OFFICIAL-SENSITIVE", "federation.asserted-trust"),
    ("support@casterbridgeyoungcarers.org.uk", "OFFICIAL-SENSITIVE", "federation.asserted-trust"),
    ("someone@dcs.gov.uk", "OFFICIAL-SENSITIVE", "federation.capped-by-peer"),
]
EXPIRED_CASES = [("j.smith@wessex.gov.uk", "OFFICIAL", "federation.list-expired")]


@pytest.mark.parametrize(("address", "level", "code"), FEDERATION_CASES)
def test_federation_reason_table(pair: Pair, address: str, level: str, code: str) -> None:
    pair.import_(pair.signed())
    answer = pair.look(address, level, detail=no_detail)
    assert answer["matched"] == "federated" and answer["permitted"] is False
    assert code in codes(answer)[level]


@pytest.mark.parametrize(("address", "level", "code"), EXPIRED_CASES)
def test_federation_expired_table(pair: Pair, address: str, level: str, code: str) -> None:
    pair.import_(pair.signed(pair.payload(valid_seconds=600)))
    pair.later(600)
    assert codes(pair.look(address, level, detail=all_detail))[level] == {code}


def test_sub_addresses_match_as_the_peer_matches_them(pair: Pair) -> None:
    """A's domain strips `+tag` and excludes `noreply`: B, importing A's list, refuses
    noreply+x@ as A does, and finds a listed mailbox under a sub-address as A does."""
    a = pair.a
    reg = register(
        a, "Melchester CC", "melchester.gov.uk", separator="+", domain_wide=True,
        exclusions=["noreply"], mailboxes=[("clerk", "person", True)],
    )  # fmt: skip
    assert reg.domain is not None
    for address in ("noreply+x@melchester.gov.uk", "noreply@melchester.gov.uk"):
        assert a.lookup.lookup(address, "OFFICIAL")["permitted"] is False, address
    assert a.lookup.lookup("clerk+case-42@melchester.gov.uk", "OFFICIAL")["permitted"] is True

    pair.import_(pair.signed())
    for address in ("noreply+x@melchester.gov.uk", "noreply@melchester.gov.uk"):
        answer = pair.look(address, "OFFICIAL", detail=all_detail)
        assert answer["known"] is False and answer["permitted"] is False, answer
        assert "recipient.excluded" in {r["code"] for r in answer["reasons"]}, answer
    clerk = pair.look("clerk+case-42@melchester.gov.uk", "OFFICIAL")
    assert clerk["matched"] == "federated" and clerk["permitted"] is True
    assert clerk["organisation"]["name"] == "Melchester CC"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_federated_answers_equal_what_decide_says_as_the_clock_moves(pair: Pair) -> None:
    """The differential test (tests/directory/test_lookup_memo.py) on federated entries: cached
    answers equal decide()'s across the posture ageing and the list's expiry, and a re-import."""
    pair.import_(pair.signed(pair.payload(valid_seconds=3 * 86400)))
    addresses = [*demo_addresses(), "J.Smith+tag@Wessex.gov.uk"]
    lookup = cached(pair.b)
    assert_same(pair.b, lookup, addresses)
    for seconds in (3600, 7 * 86400, 86400, 2 * 86400):
        pair.later(seconds)
        assert_same(pair.b, lookup, addresses)
    pair.a.lookup.snapshots.invalidate()
    pair.import_(pair.signed())
    assert_same(pair.b, lookup, addresses)
