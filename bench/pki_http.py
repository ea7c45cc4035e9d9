"""OCSP responses per second over HTTP: `clearance serve --workers 2` answering GET /pki/ocsp/...
for issued (good), revoked and never-issued serials, driven by wrk (or an async client).

    python bench/pki_http.py [--seconds 10] [--connections 64] [--json FILE]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from bench.common import ROOT, machine, table, write_json
from bench.http_load import api_server, run_load, wait_ready
from tests.support.servers import free_port


def cli(env: dict[str, str], *args: str) -> str:
    exe = Path(sys.executable).parent / "clearance"
    done = subprocess.run(
        [str(exe), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def ocsp_path(cert_or_serial: x509.Certificate | int, issuer: x509.Certificate) -> str:
    builder = ocsp.OCSPRequestBuilder()
    if isinstance(cert_or_serial, x509.Certificate):
        builder = builder.add_certificate(cert_or_serial, issuer, hashes.SHA1())
    else:
        key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
        name_hash = hashes.Hash(hashes.SHA1())
        name_hash.update(issuer.subject.public_bytes())
        builder = builder.add_certificate_by_hash(
            name_hash.finalize(), key_hash, cert_or_serial, hashes.SHA1()
        )
    der = builder.build().public_bytes(serialization.Encoding.DER)
    return "/pki/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--certificates", type=int, default=20)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="clearance-bench-pki-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "CLEARANCE_HOME": str(home)}
        env.pop("CLEARANCE_DATABASE_URL", None)
        cli(env, "demo")
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")]))
            .sign(key, hashes.SHA256())
        )
        (Path(tmp) / "req.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        issued: list[x509.Certificate] = []
        for i in range(args.certificates):
            out = Path(tmp) / f"cert{i}.pem"
            cli(
                env,
                "cert",
                "issue",
                "a.jones@casterbridge.gov.uk",
                "--csr",
                str(Path(tmp) / "req.pem"),
                "--out",
                str(out),
            )
            issued.append(x509.load_pem_x509_certificates(out.read_bytes())[0])
        issuer = x509.load_pem_x509_certificate((home / "ca" / "issuing.pem").read_bytes())
        for cert in issued[: len(issued) // 4]:
            cli(env, "cert", "revoke", format(cert.serial_number, "x"), "--reason", "superseded")
        paths = [ocsp_path(c, issuer) for c in issued]
        paths += [ocsp_path(0x1000 + i, issuer) for i in range(len(issued) // 4)]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        rows: list[dict[str, Any]] = []
        with api_server({"CLEARANCE_HOME": str(home)}, port, args.workers):
            wait_ready(base + paths[0], {})
            run_load(base, paths, {}, connections=args.connections, seconds=2)  # warm up
            result = run_load(base, paths, {}, connections=args.connections, seconds=args.seconds)
        rows.append(
            {
                "measure": "OCSP GET over HTTP",
                "workers": args.workers,
                "connections": args.connections,
                "tool": result.tool,
                "responses_per_s": round(result.per_second),
                "p50_ms": round(result.p50_ms, 2),
                "p99_ms": round(result.p99_ms, 2),
                "errors": result.errors,
            }
        )
    print(table(list(rows[0]), [list(r.values()) for r in rows]))
    info = machine()
    print(f"machine: {info['cpus']} cores, {info['cpu_model']}, load {info['load_average']}")
    if args.json:
        write_json(args.json, {"machine": info, "results": rows})


if __name__ == "__main__":
    main()
