"""Federation for one directory: its signing key and trust list, its peers, their imports.

Every entry point authorises (directory.authz) before it reads or writes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from directory.authz import Action, Principal, authorize
from directory.errors import DirectoryError, ErrorKind, malformed, not_found
from directory.federation import keys, peers, trustlist
from directory.federation.fetch import fetch_list
from directory.federation.importer import OUTSIDE, ImportReport, import_list
from directory.federation.records import Peer, PeerStatus
from directory.store.federation import FederationStore
from pki.signing import key_id

if TYPE_CHECKING:
    from directory.service import Directory

log = logging.getLogger(__name__)


class Federation:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.settings = directory.settings
        self.clock = directory.clock
        self.store = FederationStore(directory.store)

    # --- this directory's trust list --------------------------------------------------------
    def trust_list(self, p: Principal) -> dict[str, str]:
        """The signed envelope of this directory's trust list, issued now."""
        authorize(p, Action.EXPORT_TRUST_LIST)
        key = keys.signing_key(self.settings)
        d = self.directory
        payload = trustlist.build_payload(
            d.store,
            d.live_lookup.snapshots.current(),  # the store now, not the lookups' cache
            d.policy,
            self.settings.directory_name,
            self.clock(),
            self.settings.federation_list_valid_seconds,
        )
        return trustlist.envelope(payload, key)

    # --- peers ----------------------------------------------------------------------------
    def peers(self, p: Principal) -> list[dict[str, Any]]:
        authorize(p, Action.MANAGE_FEDERATION)
        return [self.describe(peer) for peer in self.store.peers()]

    def peer(self, p: Principal, name: str) -> Peer:
        authorize(p, Action.MANAGE_FEDERATION)
        found = self.store.peer(name)
        if found is None:
            raise not_found(f"no federation peer {name[:80]!r}")
        return found

    def add_peer(
        self,
        p: Principal,
        name: str,
        public_key: str,
        url: str | None = None,
        max_trust: str | None = None,
        permitted: Iterable[str] = (),
    ) -> Peer:
        """A new peer, with the name constraints (domain suffixes) it may speak for."""
        authorize(p, Action.MANAGE_FEDERATION)
        key = peers.check_public_key(public_key)
        values = {
            "name": peers.check_name(name),
            "url": peers.check_url(url),
            "public_key": public_key if isinstance(public_key, str) else public_key.decode(),
            "key_id": key_id(key),
            "max_trust": peers.parse_max_trust(max_trust).label,
            "permitted_domains": list(peers.parse_permitted(permitted)),
        }
        if self.store.peer(name) is None and any(
            existing.key_id == values["key_id"] for existing in self.store.peers()
        ):
            raise malformed("another peer already has this public key", field="public_key")
        return self.store.add_peer(p.name, self.clock(), values)

    def constrain(self, p: Principal, name: str, permitted: Iterable[str]) -> Peer:
        """Replace the peer's name constraints. Entries its last list held outside the new ones
        stop counting at once (they are removed); the next import is checked against them."""
        authorize(p, Action.MANAGE_FEDERATION)
        return self.store.set_permitted(
            p.name, self.clock(), name, peers.parse_permitted(permitted)
        )

    def suspend(self, p: Principal, name: str) -> Peer:
        authorize(p, Action.MANAGE_FEDERATION)
        return self.store.set_status(p.name, self.clock(), name, PeerStatus.SUSPENDED)

    def resume(self, p: Principal, name: str) -> Peer:
        authorize(p, Action.MANAGE_FEDERATION)
        return self.store.set_status(p.name, self.clock(), name, PeerStatus.ACTIVE)

    def remove(self, p: Principal, name: str) -> None:
        authorize(p, Action.MANAGE_FEDERATION)
        self.store.remove_peer(p.name, self.clock(), name)

    # --- imports --------------------------------------------------------------------------
    def import_list(self, p: Principal, name: str, raw: bytes | str) -> ImportReport:
        peer = self.peer(p, name)
        max_valid = timedelta(seconds=self.settings.federation_max_list_accept_seconds)
        report = import_list(
            self.store, self.directory.policy, peer, raw, p.name, self.clock(), max_valid
        )
        outside = [s["domain"] for s in report.skipped if s["reason"] == OUTSIDE]
        if outside:
            log.warning(
                "federation peer %s listed %d domain(s) outside its name constraints, refused: %s",
                peer.name,
                len(outside),
                ", ".join(outside[:10]) + (" ..." if len(outside) > 10 else ""),
            )
        return report

    def fetch_and_import(self, p: Principal, name: str, api_key: str | None) -> ImportReport:
        peer = self.peer(p, name)
        if not peer.url:
            raise DirectoryError(
                ErrorKind.MALFORMED, f"peer {name!r} has no URL: give a file to import"
            )
        raw = fetch_list(peer.url, api_key, self.settings.federation_fetch_timeout)
        return self.import_list(p, name, raw)

    def describe(self, peer: Peer) -> dict[str, Any]:
        domains, mailboxes = self.store.counts(peer.id)
        now = self.clock()
        expired = peer.list_valid_until is not None and peer.list_valid_until <= now
        return {
            "name": peer.name,
            "url": peer.url,
            "key_id": peer.key_id,
            "max_trust": peer.max_trust.label,
            "permitted": list(peer.permitted),
            "status": peer.status.value,
            "created_at": trustlist.stamp(peer.created_at),
            "changed_at": trustlist.stamp(peer.changed_at),
            "list_issued_at": _maybe(peer.list_issued_at),
            "list_valid_until": _maybe(peer.list_valid_until),
            "list_expired": expired,
            "list_digest": peer.list_digest,
            "domains": domains,
            "mailboxes": mailboxes,
        }


def _maybe(value: Any) -> str | None:
    return trustlist.stamp(value) if value is not None else None
