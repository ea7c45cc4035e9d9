"""Federation storage on SQLite AND PostgreSQL: peers, wholesale replacement of a peer's
entries, the reads a lookup and an import make, audit and change sequences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.federation.records import PeerStatus
from directory.model import TrustLevel
from directory.service import Directory
from directory.store import tables as t
from directory.store.federation import FederationStore
from tests.conftest import ADMIN, START

KEY = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAiIv79vBAToRZPskyMmUuCB9OzXOANfg02jyfbFJ3Loc=\n-----END PUBLIC KEY-----\n"  # noqa: E501


def peer_values(name: str) -> dict[str, object]:
    return {
        "name": name,
        "url": None,
        "public_key": KEY,
        "key_id": f"sha256:{name}",
        "max_trust": "organisation-verified",
        "permitted_domains": ["uk"],
    }


def domain_row(domain_id: str, name: str) -> dict[str, object]:
    return {
        "id": domain_id,
        "domain": name,
        "organisation_id": "org-1",
        "organisation_name": "Wessex County Council",
        "sector": "local-government",
        "trust_level": "accredited",
        "ceiling": None,
        "posture": {"checked_at": START.isoformat(), "mx": True, "tls": True, "mta_sts": None,
                    "dane": True, "dmarc": "reject", "source": "federated", "evidence": None},
        "domain_wide": 1,
        "exclusions": ["noreply"],
    }  # fmt: skip


def facts(hours: int) -> dict[str, object]:
    return {
        "list_issued_at": START + timedelta(hours=hours),
        "list_valid_until": START + timedelta(hours=hours + 24),
        "list_digest": f"sha256:{hours}",
    }


def test_peers_entries_and_reads(any_directory: Directory) -> None:
    d = any_directory
    store = FederationStore(d.store)
    peer = store.add_peer(ADMIN.name, START, peer_values("wessex"))
    assert peer.status is PeerStatus.ACTIVE and peer.max_trust is TrustLevel.ORGANISATION_VERIFIED
    assert peer.created_at == START and peer.list_issued_at is None
    with pytest.raises(DirectoryError) as caught:
        store.add_peer(ADMIN.name, START, peer_values("wessex"))
    assert caught.value.kind is ErrorKind.CONFLICT

    before = d.store.state()
    mailboxes = [
        {"domain_id": "d-1", "address": "j.smith@wessex.gov.uk", "role": "person",
         "mailbox_verified": 1},
    ]  # fmt: skip
    store.replace_entries(ADMIN.name, START, peer, [domain_row("d-1", "wessex.gov.uk")],
                          mailboxes, facts(0), {"imported": 1})  # fmt: skip
    assert d.store.state().register_seq > before.register_seq
    assert store.counts(peer.id) == (1, 1)
    found = store.mailbox("j.smith@wessex.gov.uk")
    assert found is not None and found.domain_id == "d-1" and found.mailbox_verified is True
    assert store.mailbox("nobody@wessex.gov.uk") is None
    assert store.owners(["wessex.gov.uk", "other.gov.uk"]) == {"wessex.gov.uk": "wessex"}
    (listed,) = d.store.register_data().federated_domains
    assert listed.peer_name == "wessex" and listed.trust_level is TrustLevel.ACCREDITED
    assert listed.list_valid_until == START + timedelta(hours=24)
    assert listed.posture is not None and listed.posture.dane is True
    assert listed.exclusions == ("noreply",)

    # replaced wholesale; the replay rule is checked inside the transaction
    store.replace_entries(ADMIN.name, START, store.peer("wessex"),  # type: ignore[arg-type]
                          [domain_row("d-2", "wessex2.gov.uk")], [], facts(1), {})  # fmt: skip
    assert store.counts(peer.id) == (1, 0)
    assert store.mailbox("j.smith@wessex.gov.uk") is None
    with pytest.raises(DirectoryError) as caught:
        store.replace_entries(ADMIN.name, START, peer, [], [], facts(1), {})
    assert caught.value.kind is ErrorKind.CONFLICT
    assert store.counts(peer.id) == (1, 0)

    # another peer cannot hold the same domain
    other = store.add_peer(ADMIN.name, START, peer_values("nhs"))
    with pytest.raises(DirectoryError) as caught:
        store.replace_entries(ADMIN.name, START, other, [domain_row("d-3", "wessex2.gov.uk")],
                              [], facts(2), {})  # fmt: skip
    assert caught.value.kind is ErrorKind.CONFLICT
    assert store.counts(other.id) == (0, 0)

    # suspended: not loaded for lookups at all
    store.set_status(ADMIN.name, START, "wessex", PeerStatus.SUSPENDED)
    assert d.store.register_data().federated_domains == []
    store.remove_peer(ADMIN.name, START, "wessex")
    assert store.peer("wessex") is None
    assert d.store.count(t.federated_domains) == 0
    assert [p.name for p in store.peers()] == ["nhs"]
    checked, problems = d.store.verify_audit()
    assert problems == [] and checked > 0
    actions = [e.action for e in d.store.audit_entries(limit=100)]
    for action in ("federation.peer-add", "federation.list-import", "federation.peer-suspend",
                   "federation.peer-remove"):  # fmt: skip
        assert action in actions


def test_local_reads_for_export_and_skips(any_directory: Directory) -> None:
    from tests.directory.test_lookup import register

    register(any_directory, "Council", "council.gov.uk", mailboxes=[("a", "person", True)])
    store = FederationStore(any_directory.store)
    assert store.local_domains(["council.gov.uk", "x.gov.uk"]) == {"council.gov.uk"}
    domain = any_directory.store.domain_by_name("council.gov.uk")
    assert domain is not None
    assert store.local_mailboxes([domain.id]) == {
        domain.id: [{"address": "a@council.gov.uk", "role": "person", "mailbox_verified": True}]
    }
