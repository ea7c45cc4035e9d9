"""Benchmark the pki core: issuance (with and without the lint gate), CRL build, OCSP.

    .venv/bin/python bench/pki.py [--certs 300] [--crl-size 100000] [--ocsp 5000]
                                   [--processes N] [--json FILE]

Issuance uses P-256 CSRs against an ECDSA P-384 issuing CA. "processes" rows run the same
loop in N worker processes (one CA each), as a multi-worker API would; pkilint is pure Python,
so one process is bound by one core.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from pki.authority import CertificateAuthority
from pki.hierarchy import create_ca
from pki.ledger import InMemoryLedger
from pki.profiles import PkiProfile
from pki.request import IssueRequest, ValidationType
from pki.status import Good, RevocationReason
from pki.urls import PkiUrls

PASSPHRASE = "benchmark passphrase, not a secret"
URLS = PkiUrls("http://pki.clearance.example.com/pki")
PROFILE = PkiProfile()


def clock() -> datetime:
    return datetime.now(UTC)


def _csrs(count: int) -> list[bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    return [
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
        for _ in range(min(count, 50))
    ]


def _load(ca_dir: Path) -> CertificateAuthority:
    return CertificateAuthority.load(ca_dir, PASSPHRASE, profile=PROFILE, urls=URLS, clock=clock)


def issue_loop(ca_dir: Path, count: int, lint: bool) -> float:
    """Issue `count` certificates; return the elapsed seconds (validators pre-built)."""
    ca = _load(ca_dir)
    ca.warm_up()
    ledger = InMemoryLedger()
    csrs = _csrs(count)
    requests = [
        IssueRequest(
            email=f"user{i}@council.gov.uk",
            validation=ValidationType.MAILBOX,
            trust_level="accredited",
            csr=csrs[i % len(csrs)],
        )
        for i in range(count)
    ]
    start = time.perf_counter()
    for request in requests:
        ca.issue(request, ledger, lint=lint)
    return time.perf_counter() - start


def _issue_worker(args: tuple[str, int, bool]) -> float:
    return issue_loop(Path(args[0]), args[1], args[2])


def issue_parallel(ca_dir: Path, count: int, lint: bool, processes: int) -> float:
    """Certificates per second over `processes` workers, each issuing `count`."""
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        start = time.perf_counter()
        pool.map(_issue_worker, [(str(ca_dir), count, lint)] * processes)
        elapsed = time.perf_counter() - start
    return count * processes / elapsed


def crl_build(ca_dir: Path, size: int) -> tuple[float, int]:
    ca = _load(ca_dir)
    now = clock()
    reasons = list(RevocationReason)
    entries = [
        (secrets.randbits(159) | 1 << 64, now - timedelta(seconds=i), reasons[i % len(reasons)])
        for i in range(size)
    ]
    start = time.perf_counter()
    der = ca.build_crl(entries, number=2)
    elapsed = time.perf_counter() - start
    parsed = x509.load_der_x509_crl(der)
    issuer_key = ca.issuing_certificate.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    assert parsed.is_signature_valid(issuer_key)
    assert len(parsed) == size
    return elapsed, len(der)


def ocsp_rate(ca_dir: Path, count: int) -> float:
    ca = _load(ca_dir)
    responder = ca.ocsp_responder(lambda serial: Good())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.issuing_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(clock())
        .not_valid_after(clock() + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, ca.issuing_certificate, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    start = time.perf_counter()
    for _ in range(count):
        responder.respond(request)
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=int, default=300)
    parser.add_argument("--crl-size", type=int, default=100_000)
    parser.add_argument("--ocsp", type=int, default=5_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    rows: list[tuple[str, float, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ca_dir = Path(tmp) / "ca"
        create_ca(ca_dir, PASSPHRASE, profile=PROFILE, urls=URLS, clock=clock)
        for lint in (True, False):
            label = "with lint" if lint else "without lint"
            rate = args.certs / issue_loop(ca_dir, args.certs, lint)
            rows.append((f"certs/s, 1 process, {label}", rate, "certs/s", ">=150" if lint else ""))
            if args.processes > 1:
                rate = issue_parallel(ca_dir, args.certs, lint, args.processes)
                rows.append(
                    (
                        f"certs/s, {args.processes} processes, {label}",
                        rate,
                        "certs/s",
                        ">=150" if lint else "",
                    )
                )
        elapsed, size = crl_build(ca_dir, args.crl_size)
        rows.append((f"CRL build, {args.crl_size:,} revoked ({size:,} bytes)", elapsed, "s", "<5"))
        rows.append(
            ("OCSP responses/s, in process", ocsp_rate(ca_dir, args.ocsp), "resp/s", ">=2000")
        )

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  unit     target")
    for name, value, unit, target in rows:
        print(f"{name:<{width}}  {value:>12.2f}  {unit:<7}  {target}")
    if args.json:
        result: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "results": [{"measure": n, "value": v, "unit": u, "target": t} for n, v, u, t in rows],
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
