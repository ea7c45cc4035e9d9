"""Two directories on the embedded store and a frozen clock: A (the demo data) issues trust
lists signed with a test key; B has A as its peer `wessex` and imports them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from directory import demo
from directory.federation.service import Federation
from directory.federation.trustlist import build_payload, envelope
from directory.service import Directory
from pki.signing import SigningKey, generate_signing_key, public_key_pem
from tests.conftest import ADMIN, FrozenClock, make_directory


@dataclass
class Pair:
    a: Directory
    b: Directory
    key: SigningKey
    clock: FrozenClock

    @property
    def federation(self) -> Federation:
        return Federation(self.b)

    def payload(self, valid_seconds: int = 86400) -> dict[str, Any]:
        a = self.a
        return build_payload(
            a.store, a.lookup.snapshots.current(), a.policy, "wessex-region", self.clock(),
            valid_seconds,
        )  # fmt: skip

    def signed(self, payload: dict[str, Any] | None = None, key: SigningKey | None = None) -> bytes:
        body = payload if payload is not None else self.payload()
        return json.dumps(envelope(body, key or self.key)).encode()

    def import_(self, raw: bytes, peer: str = "wessex") -> Any:
        return self.federation.import_list(ADMIN, peer, raw)

    def look(self, address: str, classification: str | None = None, **kw: Any) -> Any:
        return self.b.lookup.lookup(address, classification, **kw)

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)


@pytest.fixture
def pair(tmp_path: Path, clock: FrozenClock) -> Iterator[Pair]:
    a = make_directory(tmp_path / "a", clock)
    demo.seed(a)
    b = make_directory(tmp_path / "b", clock)
    key = generate_signing_key()
    Federation(b).add_peer(ADMIN, "wessex", public_key_pem(key), permitted=["uk"])
    yield Pair(a, b, key, clock)
    a.close()
    b.close()


Mutate = Callable[[dict[str, Any]], None]


def days(n: float) -> timedelta:
    return timedelta(days=n)
