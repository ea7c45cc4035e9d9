from __future__ import annotations

from pathlib import Path

import pytest

from pki.authority import CertificateAuthority
from pki.keys import PrivateKey
from pki.ledger import InMemoryLedger
from pki.profiles import PkiProfile
from pki.urls import PkiUrls
from tests.pki.helpers import BASE_URL, PASSPHRASE, FrozenClock, make_key, new_ca


@pytest.fixture(scope="session")
def session_ca_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FrozenClock]:
    clock = FrozenClock()
    directory = tmp_path_factory.mktemp("pki") / "ca"
    new_ca(directory, clock)
    return directory, clock


@pytest.fixture(scope="session")
def ca(session_ca_dir: tuple[Path, FrozenClock]) -> CertificateAuthority:
    directory, clock = session_ca_dir
    authority = CertificateAuthority.load(
        directory, PASSPHRASE, profile=PkiProfile(), urls=PkiUrls(BASE_URL), clock=clock
    )
    authority.warm_up()
    return authority


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger()


@pytest.fixture(scope="session")
def keys() -> dict[str, PrivateKey]:
    return {kind: make_key(kind) for kind in ("ec", "ec384", "ed25519", "rsa2048", "rsa3072")}
