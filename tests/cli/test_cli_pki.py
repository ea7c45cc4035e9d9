"""`clearance ca` and `clearance cert`: the CA's commands, with exit codes and files written."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from typer.testing import Result

from directory.settings import REPO_CONFIG
from tests.cli.conftest import Run, opened, written


def csr_file(tmp: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> Path:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, hashes.SHA256())
    )
    path = tmp / "req.pem"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def test_demo_sets_up_a_ca_with_encrypted_keys(run: Run, home: Path) -> None:
    assert run("demo").exit_code == 0
    for name in ("root.key", "issuing.key", "ocsp.key"):
        path = home / "ca" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert stat.S_IMODE((home / "ca-passphrase").stat().st_mode) == 0o600
    again = run("ca", "init")
    assert again.exit_code == 2  # a CA exists already: refused, nothing replaced


def test_issue_from_csr_and_as_pkcs12_then_revoke(run: Run, home: Path, tmp_path: Path) -> None:
    assert run("demo").exit_code == 0
    key = ec.generate_private_key(ec.SECP256R1())
    out = tmp_path / "cert.pem"
    issued = run(
        "cert",
        "issue",
        "a.jones@casterbridge.gov.uk",
        "--csr",
        str(csr_file(tmp_path, key)),
        "--out",
        str(out),
        "--json",
    )
    assert issued.exit_code == 0, issued.output
    serial = json.loads(issued.stdout)["serial"]
    chain = x509.load_pem_x509_certificates(out.read_bytes())
    assert len(chain) == 3 and chain[0].public_key() == key.public_key()

    (tmp_path / "pass.txt").write_text("a long enough passphrase\n")
    bundle = tmp_path / "d.morgan.p12"
    made = run(
        "cert",
        "issue",
        "d.morgan@wessex.police.uk",
        "--pkcs12",
        str(bundle),
        "--passphrase-file",
        str(tmp_path / "pass.txt"),
    )
    assert made.exit_code == 0, made.output
    loaded = pkcs12.load_pkcs12(bundle.read_bytes(), b"a long enough passphrase")
    assert loaded.key is not None
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600

    before = written()
    assert run("cert", "revoke", serial, "--reason", "unspecified").exit_code == 2
    assert run("cert", "revoke", serial, "--reason", "certificateHold").exit_code == 2
    assert run("cert", "revoke", "not-hex", "--reason", "keyCompromise").exit_code == 2
    assert written() == before
    assert run("cert", "revoke", serial, "--reason", "keyCompromise").exit_code == 0
    assert run("cert", "revoke", serial, "--reason", "keyCompromise").exit_code == 2  # again
    listed = run("cert", "list", "casterbridge.gov.uk", "--json")
    assert [c["reason"] for c in json.loads(listed.stdout) if c["serial"] == serial] == [
        "keyCompromise"
    ]
    crl = tmp_path / "crl.der"
    assert run("ca", "crl", "--out", str(crl)).exit_code == 0
    parsed = x509.load_der_x509_crl(crl.read_bytes())
    assert parsed.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


def test_bad_requests_exit_2_and_write_nothing(run: Run, tmp_path: Path) -> None:
    assert run("demo").exit_code == 0
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    good = csr_file(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "garbage.pem").write_text("not a CSR")
    out = str(tmp_path / "out.pem")
    before = written()
    cases = [
        (
            "cert",
            "issue",
            "a.jones@casterbridge.gov.uk",
            "--csr",
            str(csr_file(tmp_path, weak)),
            "--out",
            out,
        ),
        (
            "cert",
            "issue",
            "a.jones@casterbridge.gov.uk",
            "--csr",
            str(tmp_path / "garbage.pem"),
            "--out",
            out,
        ),
        ("cert", "issue", "a.jones@casterbridge.gov.uk", "--csr", str(good)),  # no --out
        ("cert", "issue", "nobody@casterbridge.gov.uk", "--csr", str(good), "--out", out),
        ("cert", "issue", "ops@anglebury-cases.co.uk", "--csr", str(good), "--out", out),
        (
            "cert",
            "issue",
            "a.jones@casterbridge.gov.uk",
            "--csr",
            str(good),
            "--out",
            out,
            "--validity-days",
            "826",
        ),
        ("cert", "issue", "not an address", "--csr", str(good), "--out", out),
    ]
    for case in cases:
        result = run(*case)
        assert result.exit_code == 2, (case, result.output)
    with opened() as d:
        assert (
            d.certificates.records.for_organisation(
                next(
                    o.id for o in d.store.organisations() if o.name.startswith("Casterbridge City")
                )
            )
            == []
        )
    assert written()[2] == before[2]


def issue_from_csr(
    run: Run, tmp_path: Path, key: ec.EllipticCurvePrivateKey, *extra: str
) -> Result:
    """`cert issue` for a.jones@casterbridge.gov.uk (a demo mailbox) from a CSR for `key`."""
    csr, out = str(csr_file(tmp_path, key)), str(tmp_path / "cert.pem")
    return run("cert", "issue", "a.jones@casterbridge.gov.uk", "--csr", csr, "--out", out, *extra)


def test_a_wrong_ca_passphrase_is_bad_configuration(run: Run, home: Path, tmp_path: Path) -> None:
    assert run("demo").exit_code == 0
    (home / "ca-passphrase").write_text("not the passphrase the keys were encrypted with\n")
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_from_csr(run, tmp_path, key)
    assert issued.exit_code == 2, issued.output  # the operator's configuration: not "try later"
    assert "wrong CA passphrase" in issued.stderr
    assert "PkiError" not in issued.output + issued.stderr


def test_an_unsupported_key_is_bad_input_as_over_http(run: Run, tmp_path: Path) -> None:
    assert run("demo").exit_code == 0
    key = ec.generate_private_key(ec.SECP521R1())
    issued = issue_from_csr(run, tmp_path, key)
    assert issued.exit_code == 2, issued.output  # HTTP says 400 for unsupported-key
    assert "secp521r1 is not allowed" in issued.stderr


def test_validity_days_help_and_check_agree(run: Run, tmp_path: Path) -> None:
    shown = run("cert", "issue", "--help")
    assert "at most 824" in " ".join(shown.stdout.split())
    key = ec.generate_private_key(ec.SECP256R1())
    refused = issue_from_csr(run, tmp_path, key, "--validity-days", "825")
    assert refused.exit_code == 2 and "less than or equal to 824" in refused.output


def test_ca_show_names_the_br_version_and_the_certificates(run: Run) -> None:
    assert run("demo").exit_code == 0
    shown = run("ca", "show", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["follows"] == "S/MIME BR v1.0.16 (ballot SMC018)"
    assert [c["role"] for c in data["certificates"]] == ["root", "issuing", "ocsp-responder"]
    assert data["certificates"][1]["key"] == "ECDSA secp384r1" and data["warnings"] == []
    text = run("ca", "show")
    assert text.exit_code == 0 and "v1.0.16" in text.stdout and "warning" not in text.stdout


def test_a_new_rsa_3072_ca_is_refused_and_an_old_one_warned_about(
    run: Run, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile from before SMC017 (ca.key = "rsa-3072"): `ca init` refuses it, naming the
    rule, and writes nothing. A CA that was made so (before the ballot) keeps issuing, and
    `ca show` warns with the date it may stop."""
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config)
    profile = config / "profiles" / "default.toml"
    profile.write_text(profile.read_text().replace('key = "ec-p384"', 'key = "rsa-3072"', 1))
    monkeypatch.setenv("CLEARANCE_CONFIG_DIR", str(config))
    assert run("init").exit_code == 0
    refused = run("ca", "init", "--generate-passphrase")
    assert refused.exit_code == 2, refused.output
    assert "SMC017" in refused.stderr and "rsa-4096" in refused.stderr
    assert not (home / "ca" / "issuing.pem").exists()
    assert run("ca", "show").exit_code == 2  # no CA

    from pki import hierarchy

    def before_smc017(spec: str) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)

    with monkeypatch.context() as patched:
        patched.setattr(hierarchy, "generate_ca_key", before_smc017)
        assert run("ca", "init").exit_code == 0
    shown = json.loads(run("ca", "show", "--json").stdout)
    assert shown["certificates"][1]["key"] == "RSA 3072"
    assert len(shown["warnings"]) == 2 and "2027-09-15" in shown["warnings"][0]
    assert "warning" in run("ca", "show").stdout
