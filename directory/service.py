"""The directory, assembled from settings: store, policy, lookup and registration.

Built inside the CLI command or `create_app()`, never at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from directory import apikeys
from directory.authz import Principal
from directory.errors import DirectoryError, ErrorKind
from directory.lookup import Lookup
from directory.policy import Policy, load_policy
from directory.registration import Registration
from directory.settings import Settings
from directory.snapshot import Ticks
from directory.store import migrate
from directory.store.engine import make_engine
from directory.store.mirror import LookupMirror
from directory.store.store import DirectoryStore
from directory.store.writer import Writer

if TYPE_CHECKING:
    from directory.certificates import Certificates
    from directory.model import Organisation, OrgStatus

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Directory:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = utc_now,
        *,
        serving: bool = False,
        ticks: Ticks = time.monotonic,
    ) -> None:
        """`serving`: a long-running process (the API server, the gateway), which keeps the
        local lookup mirror (directory/store/mirror.py) when `lookup_mirror` is on."""
        self.settings = settings
        self.clock = clock
        self.ticks = ticks  # monotonic seconds, for the cache's refresh interval
        self.policy: Policy = load_policy(settings.policy_path, settings.schemes_dir)
        if settings.url.startswith("sqlite"):
            settings.home.mkdir(parents=True, exist_ok=True)
        mmap_bytes = settings.sqlite_mmap_mib << 20
        mirrored = serving and settings.lookup_mirror
        # with the mirror, the store is read for lookups only while the mirror lags: its map
        # would add to each worker's resident set for little
        engine = make_engine(settings.url, sqlite_mmap_bytes=0 if mirrored else mmap_bytes)
        mirror = None
        if mirrored:
            settings.home.mkdir(parents=True, exist_ok=True)
            path = settings.home / "lookup-mirror.db"
            mirror = LookupMirror(engine, path, mmap_bytes=mmap_bytes)
        self.store = DirectoryStore(engine, mirror=mirror)
        self.lookup = Lookup(
            self.store,
            self.policy,
            clock,
            refresh_seconds=settings.cache_refresh_seconds,
            batch_limit=settings.batch_limit,
            ticks=ticks,
        )
        # Security decisions (issuing, exporting the trust list) evaluate what the store says at
        # that moment, never a cached answer: this lookup reads the change sequence at every
        # call and keeps no answers (refresh 0), as Boulder's RA re-reads before the CA signs.
        self.live_lookup = Lookup(
            self.store,
            self.policy,
            clock,
            refresh_seconds=0.0,
            batch_limit=settings.batch_limit,
            ticks=ticks,
        )
        self.registration = Registration(
            self.store, self.policy, clock, [self._revoke_organisation_certificates]
        )

    @cached_property
    def certificates(self) -> Certificates:
        """The CA side, made on first use: the CA modules are not imported by what never issues
        or revokes (a lookup, `clearance --help`)."""
        from directory.certificates import Certificates

        return Certificates(self.settings, self.store, self.live_lookup, self.clock, self.ticks)

    def _revoke_organisation_certificates(
        self, w: Writer, org: Organisation, status: OrgStatus
    ) -> None:
        self.certificates.revoke_organisation_hook(w, org, status)

    def initialise(self) -> None:
        """Create or upgrade the schema, and the store's state row. Idempotent."""
        migrate.upgrade(self.store.engine)
        self.store.initialise_state()

    def check_schema(self) -> None:
        try:
            current = migrate.current_revision(self.store.engine)
        except Exception as exc:
            raise DirectoryError(
                ErrorKind.UNAVAILABLE, "the directory store cannot be reached"
            ) from exc
        if current != migrate.HEAD:
            raise DirectoryError(
                ErrorKind.CONFIG,
                f"the store at {self.store.engine.url.render_as_string(hide_password=True)} "
                f"is at schema {current or 'none'}, not {migrate.HEAD}: "
                "run `clearance init`",
            )

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise DirectoryError(ErrorKind.UNAUTHENTICATED, "an API key is required")
        key = self.lookup.snapshots.current().api_keys.get(apikeys.key_hash(secret))
        if key is None or key.revoked_at is not None:
            raise DirectoryError(ErrorKind.UNAUTHENTICATED, "the API key is not valid")
        return Principal(f"api-key:{key.id} ({key.name})", frozenset(key.scopes))

    def close(self) -> None:
        self.store.close()
