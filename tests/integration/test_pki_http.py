"""The CA's publication points served by the real API process, checked with the openssl CLI:
OCSP good / revoked / unknown, the CRL at its distribution point rejecting a revoked certificate,
and the admin API issuing from a CSR and as PKCS#12."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.support.serve import Served, served_demo
from tests.support.servers import require_tool

pytestmark = pytest.mark.integration


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_demo(tmp_path) as running:
        yield running


def der_to_pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def ocsp(openssl: str, served: Served, tmp: Path, *target: str) -> str:
    result = subprocess.run(
        [
            openssl,
            "ocsp",
            "-issuer",
            str(tmp / "issuing.pem"),
            *target,
            "-url",
            f"{served.url}/pki/ocsp",
            "-CAfile",
            str(tmp / "chain.pem"),
            "-no_nonce",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Response verify OK" in result.stderr + result.stdout, result.stderr
    return result.stdout


def test_ocsp_and_crl_follow_revocation(served: Served, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    auth = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.url, timeout=30) as client:
        root = client.get("/pki/root.cer")
        issuing = client.get("/pki/issuing.cer")
        assert root.headers["content-type"] == "application/pkix-cert"
        (tmp_path / "root.pem").write_bytes(der_to_pem(root.content))
        (tmp_path / "issuing.pem").write_bytes(der_to_pem(issuing.content))
        (tmp_path / "chain.pem").write_bytes(der_to_pem(issuing.content) + der_to_pem(root.content))
        answer = client.get(
            "/v1/lookup", params={"address": "j.smith@wessex.gov.uk"}, headers=auth
        ).json()
        [certificate] = answer["certificates"]
        (tmp_path / "leaf.pem").write_text(certificate["pem"])
        serial = certificate["serial"]

        verify = [
            openssl,
            "verify",
            "-x509_strict",
            "-purpose",
            "smimesign",
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(tmp_path / "issuing.pem"),
        ]
        ok = subprocess.run([*verify, str(tmp_path / "leaf.pem")], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr

        good = ocsp(openssl, served, tmp_path, "-cert", str(tmp_path / "leaf.pem"))
        assert "leaf.pem: good" in good or ": good" in good
        unknown = ocsp(openssl, served, tmp_path, "-serial", "0x1234567890abcdef")
        assert ": unknown" in unknown

        revoke = served.cli("cert", "revoke", serial, "--reason", "keyCompromise")
        assert revoke.returncode == 0, revoke.stderr
        # Signed answers are reused until the store changes (seen within cache_refresh_seconds).
        deadline = time.monotonic() + 5
        while True:
            revoked = ocsp(openssl, served, tmp_path, "-cert", str(tmp_path / "leaf.pem"))
            if ": revoked" in revoked or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert ": revoked" in revoked and "keyCompromise" in revoked

        crl = client.get("/pki/issuing.crl")
        assert crl.headers["content-type"] == "application/pkix-crl"
        parsed = x509.load_der_x509_crl(crl.content)
        assert parsed.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
        (tmp_path / "crl.pem").write_bytes(parsed.public_bytes(serialization.Encoding.PEM))
        root_crl = x509.load_der_x509_crl(client.get("/pki/root.crl").content)
        (tmp_path / "root-crl.pem").write_bytes(root_crl.public_bytes(serialization.Encoding.PEM))
        checked = subprocess.run(
            [
                *verify,
                "-crl_check_all",
                "-CRLfile",
                str(tmp_path / "crl.pem"),
                "-CRLfile",
                str(tmp_path / "root-crl.pem"),
                str(tmp_path / "leaf.pem"),
            ],
            capture_output=True,
            text=True,
        )
        assert checked.returncode != 0 and "revoked" in checked.stdout + checked.stderr

        after = client.get(
            "/v1/lookup", params={"address": "j.smith@wessex.gov.uk"}, headers=auth
        ).json()
        assert after["certificates"] == []


def test_admin_api_issues_and_revokes(served: Served) -> None:
    made = served.cli("apikey", "create", "--scope", "directory-admin", "--json")
    assert made.returncode == 0, made.stderr
    import json

    admin = {"Authorization": f"Bearer {json.loads(made.stdout)['key']}"}
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whatever")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    with httpx.Client(base_url=served.url, timeout=60) as client:
        issued = client.post(
            "/v1/admin/certificates",
            headers=admin,
            json={"address": "a.jones@casterbridge.gov.uk", "csr_pem": csr},
        )
        assert issued.status_code == 201, issued.text
        cert = x509.load_pem_x509_certificate(issued.json()["pem"].encode())
        assert cert.public_key() == key.public_key()
        bundle = client.post(
            "/v1/admin/certificates",
            headers=admin,
            json={"address": "d.morgan@wessex.police.uk", "pkcs12_passphrase": "a long passphrase"},
        )
        assert bundle.status_code == 201, bundle.text
        loaded = pkcs12.load_pkcs12(
            base64.b64decode(bundle.json()["pkcs12_base64"]), b"a long passphrase"
        )
        assert loaded.key is not None and loaded.cert is not None
        refused = client.post(
            "/v1/admin/certificates",
            headers=admin,
            json={"address": "ops@anglebury-cases.co.uk", "csr_pem": csr},
        )
        assert refused.status_code in (404, 409)
        assert refused.headers["content-type"] == "application/problem+json"
        bad_reason = client.post(
            f"/v1/admin/certificates/{issued.json()['serial']}/revoke",
            headers=admin,
            json={"reason": "unspecified"},
        )
        assert bad_reason.status_code == 400
        done = client.post(
            f"/v1/admin/certificates/{issued.json()['serial']}/revoke",
            headers=admin,
            json={"reason": "superseded"},
        )
        assert done.status_code == 204
        lookup = client.get(
            "/v1/lookup",
            params={"address": "a.jones@casterbridge.gov.uk"},
            headers={"Authorization": f"Bearer {served.key}"},
        ).json()
        assert lookup["certificates"] == []
