"""The change-sequence cache (directory/cache.py): its rules, once, at clock values from a host
booted a moment ago and from one up for months; then its use for OCSP responses."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from directory import demo
from directory.cache import SeqCache
from directory.certificates import OCSP_REUSE_SECONDS
from tests.conftest import (
    ADMIN,
    BOOTS,
    FRESH_BOOT,
    MONTHS_UP,
    BootTicks,
    FrozenClock,
    boot_ticks,
    make_directory,
)


@pytest.fixture(params=BOOTS)
def t0(request: pytest.FixtureRequest) -> float:
    return boot_ticks(request.param)()


def test_a_value_is_answered_only_at_its_sequence_and_before_it_expires(t0: float) -> None:
    cache: SeqCache[str, int] = SeqCache(10, 1000, ttl=60.0)
    assert cache.get("a", 5, t0) is None  # nothing yet
    cache.put("a", 1, 5, t0)
    assert cache.get("a", 5, t0 + 59.9) == 1
    assert cache.get("a", 5, t0 + 60.0) is None  # expired
    assert cache.get("a", 6, t0) is None  # the sequence moved: not answered
    assert (cache.hits, cache.misses) == (1, 3)


def test_a_newer_sequence_empties_it_and_an_older_one_keeps_nothing(t0: float) -> None:
    cache: SeqCache[str, int] = SeqCache(10, 1000)
    cache.put("a", 1, 5, t0)
    cache.put("b", 2, 6, t0)  # newer: emptied first
    assert (cache.seq, len(cache), cache.get("a", 6, t0), cache.get("b", 6, t0)) == (6, 1, None, 2)
    cache.put("c", 3, 5, t0)  # read before the change to 6: not kept
    assert cache.get("c", 5, t0) is None and cache.get("c", 6, t0) is None and len(cache) == 1


def test_forget_keeps_nothing_until_a_sequence_is_seen_again(t0: float) -> None:
    cache: SeqCache[str, int] = SeqCache(10, 1000)
    cache.put("a", 1, 5, t0)
    cache.forget()
    assert cache.seq is None and cache.get("a", 5, t0) is None
    cache.put("a", 1, 5, t0)  # the store answers again at 5
    assert cache.get("a", 5, t0) == 1


def test_it_is_bounded_in_entries_and_bytes(t0: float) -> None:
    cache: SeqCache[str, int] = SeqCache(3, 100)
    for n in range(3):
        cache.put(f"k{n}", n, 1, t0, cost=30)
    assert (len(cache), cache.bytes) == (3, 90)
    cache.put("k3", 3, 1, t0, cost=30)  # a fourth entry: emptied first
    assert (list(cache.entries), cache.bytes) == (["k3"], 30)
    cache.put("k4", 4, 1, t0, cost=80)  # 110 bytes: emptied first
    assert (list(cache.entries), cache.bytes) == (["k4"], 80)
    cache.put("huge", 5, 1, t0, cost=101)  # could never fit: not kept, nothing dropped
    assert list(cache.entries) == ["k4"]
    off: SeqCache[str, int] = SeqCache(0, 100)
    off.put("k", 1, 1, t0)
    assert len(off) == 0


class SteppedTicks(BootTicks):
    """A monotonic clock from a given boot, that a test can also move on."""

    def __init__(self, origin: float) -> None:
        super().__init__(origin)
        self.offset = 0.0

    def __call__(self) -> float:
        return super().__call__() + self.offset


@pytest.mark.parametrize("boot", BOOTS)
def test_ocsp_responses_are_reused_until_a_write_or_their_minute_is_up(
    tmp_path: Path, clock: FrozenClock, boot: str
) -> None:
    ticks = SteppedTicks(FRESH_BOOT if boot == "fresh-boot" else MONTHS_UP)
    d = make_directory(tmp_path, clock, ticks=ticks)
    try:
        demo.seed(d)
        serial = demo.demo_certificate(d)
        assert serial is not None
        pem = d.lookup.lookup("j.smith@wessex.gov.uk")["certificates"][0]["pem"]
        cert = x509.load_pem_x509_certificate(pem.encode())
        issuer = d.certificates.ca.issuing_certificate
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, issuer, hashes.SHA1())  # the CertID hash, not a signature
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        first = d.certificates.ocsp_reply(request)
        assert d.certificates.ocsp_reply(request) is first  # reused
        ticks.offset += OCSP_REUSE_SECONDS
        fresh = d.certificates.ocsp_reply(request)
        assert fresh is not first  # its minute was up
        assert d.certificates.ocsp_reply(request) is fresh
        d.certificates.revoke(ADMIN, serial, "keyCompromise")
        after = d.certificates.ocsp_reply(request)  # a write: signed anew, and says so
        status = ocsp.load_der_ocsp_response(after.body).certificate_status
        assert status is ocsp.OCSPCertStatus.REVOKED
    finally:
        d.close()
