"""pki against the real tools: pkilint (in process and CLI), openssl verify/cms/ocsp.

Skips when a tool is missing, fails instead under CLEARANCE_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote
from urllib.request import Request, urlopen

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from pki.authority import CertificateAuthority
from pki.keys import PrivateKey
from pki.ledger import InMemoryLedger
from pki.lint import lint_crl, lint_ocsp_response, lint_smime_certificate
from pki.ocsp import OcspResponder
from pki.request import IssuedCertificate, ValidationType
from pki.status import RevocationReason
from tests.pki.helpers import FrozenClock, make_csr, make_key, make_request, new_ca, require_tool

pytestmark = pytest.mark.integration

KEY_KINDS = ("ec", "rsa2048")
PKILINT_TYPES = {
    ValidationType.MAILBOX: "MAILBOX-STRICT",
    ValidationType.ORGANIZATION: "ORGANIZATION-STRICT",
    ValidationType.SPONSOR: "SPONSORED-STRICT",
}


@dataclass
class Issued:
    validation: ValidationType
    kind: str
    key: PrivateKey
    result: IssuedCertificate
    cert_path: Path
    key_path: Path


@dataclass
class Env:
    directory: Path
    ca: CertificateAuthority
    ledger: InMemoryLedger
    clock: FrozenClock
    issued: list[Issued]
    root: Path
    issuing: Path
    chain: Path


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    directory = tmp_path_factory.mktemp("pki-int")
    # Close to real time: openssl checks validity against its own clock.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    ca = new_ca(directory / "ca", clock)
    ledger = InMemoryLedger()
    issued = []
    for validation in ValidationType:
        for kind in KEY_KINDS:
            key = make_key(kind)
            result = ca.issue(make_request(validation, csr=make_csr(key)), ledger)
            name = f"{validation}-{kind}"
            issued.append(
                Issued(
                    validation,
                    kind,
                    key,
                    result,
                    _pem(directory / f"{name}.pem", result.pem.encode()),
                    _pem(
                        directory / f"{name}.key",
                        key.private_bytes(
                            serialization.Encoding.PEM,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption(),
                        ),
                    ),
                )
            )
    pem = serialization.Encoding.PEM
    root = _pem(directory / "root.pem", ca.root_certificate.public_bytes(pem))
    issuing = _pem(directory / "issuing.pem", ca.issuing_certificate.public_bytes(pem))
    chain = _pem(directory / "chain.pem", root.read_bytes() + issuing.read_bytes())
    return Env(directory, ca, ledger, clock, issued, root, issuing, chain)


def _run(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


# -- pkilint ------------------------------------------------------------------------------


def test_pkilint_in_process_every_profile(env: Env) -> None:
    for item in env.issued:
        assert lint_smime_certificate(item.result.der, item.validation) == [], item.cert_path


def test_pkilint_cli_every_profile(env: Env) -> None:
    tool = require_tool("lint_cabf_smime_cert")
    for item in env.issued:
        done = _run(
            tool, "lint", "-t", PKILINT_TYPES[item.validation], "-s", "WARNING", item.cert_path
        )
        assert done.stdout.strip() == "", done.stdout
        # and detection from the reserved policy OID agrees with the type we asked for
        detected = _run(tool, "lint", "-d", "-o", "-s", "WARNING", item.cert_path)
        assert detected.stderr.strip() == PKILINT_TYPES[item.validation]


def test_pkilint_cli_ca_certificates(env: Env) -> None:
    tool = require_tool("lint_pkix_cert")
    chain_tool = require_tool("lint_pkix_signer_signee_cert_chain")
    for path in (env.root, env.issuing):
        assert _run(tool, "lint", "-s", "WARNING", path).stdout.strip() == ""
    assert _run(chain_tool, "lint", "-s", "WARNING", env.root, env.issuing).stdout.strip() == ""
    leaf = env.issued[0].cert_path
    assert _run(chain_tool, "lint", "-s", "WARNING", env.issuing, leaf).stdout.strip() == ""


def test_pkilint_cli_crl(env: Env) -> None:
    tool = require_tool("lint_crl")
    der = env.ca.build_crl(
        [
            (i.result.serial, env.clock(), reason)
            for i, reason in zip(env.issued, RevocationReason, strict=False)
        ],
        number=3,
    )
    assert lint_crl(der) == []
    path = _pem(env.directory / "issuing.crl", der)
    assert _run(tool, "lint", "-t", "CRL", "-p", "BR", "-s", "WARNING", path).stdout.strip() == ""
    root_crl = env.directory / "ca" / "root.crl"
    assert (
        _run(tool, "lint", "-t", "ARL", "-p", "BR", "-s", "WARNING", root_crl).stdout.strip() == ""
    )


def test_pkilint_cli_ocsp_response(env: Env) -> None:
    tool = require_tool("lint_ocsp_response")
    item = env.issued[0]
    cert = x509.load_der_x509_certificate(item.result.der)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, env.ca.issuing_certificate, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    body = env.ca.ocsp_responder(env.ledger.status).respond(request).body
    assert lint_ocsp_response(body) == []
    path = _pem(env.directory / "response.ocsp", body)
    assert _run(tool, "lint", "-s", "WARNING", path).stdout.strip() == ""


# -- openssl verify, CRL, CMS ------------------------------------------------------------------


def test_openssl_verify_smimesign_and_smimeencrypt(env: Env) -> None:
    openssl = require_tool("openssl")
    for item in env.issued:
        purposes = ["smimesign"]
        # OpenSSL's smimeencrypt purpose demands keyEncipherment, which the S/MIME BR forbid
        # on EC keys (they carry keyAgreement); so it applies to RSA certificates only.
        if isinstance(item.key, rsa.RSAPrivateKey):
            purposes.append("smimeencrypt")
        for purpose in purposes:
            done = _run(
                openssl,
                "verify",
                "-x509_strict",
                "-purpose",
                purpose,
                "-CAfile",
                env.root,
                "-untrusted",
                env.issuing,
                item.cert_path,
            )
            assert done.stdout.strip().endswith(": OK")


def test_openssl_crl_check_rejects_revoked(env: Env) -> None:
    openssl = require_tool("openssl")
    ledger = InMemoryLedger()
    revoked = env.ca.issue(
        make_request(ValidationType.MAILBOX, csr=make_csr(make_key("ec"))), ledger
    )
    good = env.issued[0]
    ledger.revoke(revoked.serial, env.clock(), RevocationReason.KEY_COMPROMISE)
    crl = x509.load_der_x509_crl(env.ca.build_crl(ledger.revoked_entries(), number=4))
    crl_path = _pem(env.directory / "issuing-crl.pem", crl.public_bytes(serialization.Encoding.PEM))
    root_crl = x509.load_der_x509_crl((env.directory / "ca" / "root.crl").read_bytes())
    root_crl_path = _pem(
        env.directory / "root-crl.pem", root_crl.public_bytes(serialization.Encoding.PEM)
    )
    revoked_path = _pem(env.directory / "revoked.pem", revoked.pem.encode())
    common: list[str | Path] = [
        "verify",
        "-x509_strict",
        "-crl_check_all",
        "-CAfile",
        env.root,
        "-untrusted",
        env.issuing,
        "-CRLfile",
        crl_path,
        "-CRLfile",
        root_crl_path,
    ]
    assert _run(openssl, *common, good.cert_path).stdout.strip().endswith(": OK")
    done = _run(openssl, *common, revoked_path, ok=False)
    assert done.returncode != 0
    assert "certificate revoked" in done.stdout + done.stderr


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_openssl_cms_encrypt_decrypt(env: Env, kind: str) -> None:
    openssl = require_tool("openssl")
    item = next(i for i in env.issued if i.kind == kind)
    message = _pem(env.directory / f"message-{kind}.txt", b"OFFICIAL-SENSITIVE: hello\n")
    encrypted = env.directory / f"message-{kind}.p7m"
    _run(openssl, "cms", "-encrypt", "-aes256", "-in", message, "-out", encrypted, item.cert_path)
    done = _run(
        openssl,
        "cms",
        "-decrypt",
        "-in",
        encrypted,
        "-recip",
        item.cert_path,
        "-inkey",
        item.key_path,
    )
    assert done.stdout == message.read_text()


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_openssl_cms_sign_verify(env: Env, kind: str) -> None:
    openssl = require_tool("openssl")
    item = next(i for i in env.issued if i.kind == kind)
    message = _pem(env.directory / f"signed-{kind}.txt", b"signed by the directory\n")
    signed = env.directory / f"signed-{kind}.p7s"
    _run(
        openssl,
        "cms",
        "-sign",
        "-in",
        message,
        "-out",
        signed,
        "-signer",
        item.cert_path,
        "-inkey",
        item.key_path,
        "-certfile",
        env.issuing,
        "-nodetach",
    )
    done = _run(
        openssl, "cms", "-verify", "-in", signed, "-CAfile", env.root, "-purpose", "smimesign"
    )
    assert done.stdout == message.read_text()


# -- OCSP over HTTP ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    responder: OcspResponder
    crl: bytes

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path.rstrip("/") != "/pki/ocsp":
            return self._send(b"not found", "text/plain", 404)
        reply = self.responder.respond(body)
        return self._send(reply.body, reply.content_type)

    def do_GET(self) -> None:
        if self.path.startswith("/pki/ocsp/"):
            reply = self.responder.respond_get(self.path.removeprefix("/pki/ocsp/"))
            return self._send(reply.body, reply.content_type)
        if self.path == "/pki/issuing.crl":
            return self._send(self.crl, "application/pkix-crl")
        return self._send(b"not found", "text/plain", 404)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def ocsp_server(env: Env) -> Iterator[tuple[str, InMemoryLedger]]:
    ledger = InMemoryLedger()
    handler = type(
        "Handler",
        (_Handler,),
        {
            "responder": env.ca.ocsp_responder(ledger.status),
            "crl": env.ca.build_crl([], number=5),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pki", ledger
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_openssl_ocsp_good_revoked_unknown(
    env: Env, ocsp_server: tuple[str, InMemoryLedger]
) -> None:
    openssl = require_tool("openssl")
    base, ledger = ocsp_server
    good = env.ca.issue(
        make_request(ValidationType.ORGANIZATION, csr=make_csr(make_key("ec"))), ledger
    )
    bad = env.ca.issue(
        make_request(ValidationType.MAILBOX, csr=make_csr(make_key("rsa2048"))), ledger
    )
    ledger.revoke(bad.serial, env.clock(), RevocationReason.KEY_COMPROMISE)
    good_path = _pem(env.directory / "ocsp-good.pem", good.pem.encode())
    bad_path = _pem(env.directory / "ocsp-bad.pem", bad.pem.encode())
    common: list[str | Path] = [
        "ocsp",
        "-url",
        f"{base}/ocsp",
        "-issuer",
        env.issuing,
        "-CAfile",
        env.root,
        "-verify_other",
        env.issuing,
    ]

    done = _run(openssl, *common, "-cert", good_path)
    assert f"{good_path}: good" in done.stdout
    assert "Response verify OK" in done.stderr

    done = _run(openssl, *common, "-cert", bad_path)
    assert f"{bad_path}: revoked" in done.stdout
    assert "Reason: keyCompromise" in done.stdout

    # a serial this CA never issued (an existing one from another ledger counts as never issued)
    done = _run(openssl, *common, "-serial", f"0x{env.issued[0].result.serial:x}")
    assert ": unknown" in done.stdout
    done = _run(openssl, *common, "-serial", "0x123456789abcdef0123")
    assert ": unknown" in done.stdout


def test_ocsp_http_get_and_unauthorized(env: Env, ocsp_server: tuple[str, InMemoryLedger]) -> None:
    base, ledger = ocsp_server
    issued = env.ca.issue(
        make_request(ValidationType.MAILBOX, csr=make_csr(make_key("ec"))), ledger
    )
    cert = x509.load_der_x509_certificate(issued.der)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, env.ca.issuing_certificate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    url = f"{base}/ocsp/{quote(base64.b64encode(request).decode(), safe='')}"
    with urlopen(url, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/ocsp-response"
        response = ocsp.load_der_ocsp_response(answer.read())
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    other = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, env.ca.root_certificate, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    post = Request(f"{base}/ocsp", data=other, headers={"Content-Type": "application/ocsp-request"})
    with urlopen(post, timeout=10) as answer:
        status = ocsp.load_der_ocsp_response(answer.read()).response_status
    assert status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    with urlopen(Request(f"{base}/ocsp", data=b"junk"), timeout=10) as answer:
        status = ocsp.load_der_ocsp_response(answer.read()).response_status
    assert status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
