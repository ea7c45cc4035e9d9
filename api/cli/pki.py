"""`clearance ca ...` and `clearance cert ...`: the certificate authority's commands."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from api.cli.context import console, emit_json, find_organisation, open_directory, operator, table
from api.cli.errors import translated
from directory.errors import malformed
from directory.passphrase import ensure_passphrase_file
from pki.limits import BR_MAX_VALIDITY_DAYS, MAX_SUBSCRIBER_VALIDITY_DAYS
from pki.status import OPERATOR_REASONS

ca_app = typer.Typer(help="The certificate authority: set-up and CRLs.", no_args_is_help=True)
cert_app = typer.Typer(help="S/MIME certificates for verified recipients.", no_args_is_help=True)


@ca_app.command("init")
@translated
def ca_init(
    generate_passphrase: bool = typer.Option(
        False, help="write a random passphrase to <home>/ca-passphrase (0600) if none is set"
    ),
) -> None:
    """Create the root CA, the issuing CA and the OCSP responder (keys encrypted at rest)."""
    from directory import certificates as certs  # the CA: imported by the commands using it

    directory = open_directory()
    settings = directory.settings
    if generate_passphrase:
        ensure_passphrase_file(settings)
    path = certs.initialise_ca(settings, directory.clock)
    console.print(f"CA created in {path} (publish {settings.pki_base_url})")


@ca_app.command("show")
@translated
def ca_show(as_json: bool = typer.Option(False, "--json")) -> None:
    """The CA's certificates (no passphrase needed), the S/MIME BR version its profiles follow,
    and what it should act on to stay current with them (warnings, with dates)."""
    from cryptography.hazmat.primitives import hashes

    from directory import certificates as certs
    from pki import currency

    directory = open_directory()
    settings = directory.settings
    directory.close()
    chain = certs.ca_public_certificates(settings)
    if not chain:
        raise malformed(f"no CA at {settings.ca_path}: run `clearance ca init`")
    rows = [
        {
            "role": role,
            "subject": cert.subject.rfc4514_string(),
            "key": currency.key_description(cert),
            "signature": cert.signature_algorithm_oid._name,
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        }
        for role, cert in chain.items()
    ]
    warnings = currency.ca_warnings(chain["root"], chain["issuing"])
    br = f"S/MIME BR v{currency.BR_VERSION} (ballot {currency.BR_BALLOT})"
    if as_json:
        emit_json({"path": str(settings.ca_path), "follows": br, "certificates": rows,
                   "warnings": warnings})  # fmt: skip
        return
    console.print(f"CA at {settings.ca_path}; profiles follow {br}")
    columns = ["role", "subject", "key", "signature", "not before", "not after"]
    table("Certificates", columns, [[r[c.replace(" ", "_")] for c in columns] for r in rows])
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@ca_app.command("crl")
@translated
def ca_crl(
    out: Path | None = typer.Option(None, help="also write the DER CRL here"),
    force: bool = typer.Option(False, help="issue a new CRL even if the current one is fresh"),
) -> None:
    """Issue (if due) and show the issuing CA's CRL. Run at least daily, e.g. from cron."""
    directory = open_directory()
    der = directory.certificates.crl(force=force)
    latest = directory.certificates.records.latest_crl()
    assert latest is not None
    number, this_update, next_update, _ = latest
    if out is not None:
        out.write_bytes(der)
    console.print(f"CRL {number}: thisUpdate {this_update}, nextUpdate {next_update}")


@cert_app.command("issue")
@translated
def cert_issue(
    address: str,
    csr: Path | None = typer.Option(None, help="a PKCS#10 CSR (PEM or DER); only its key is used"),
    out: Path | None = typer.Option(None, help="where to write the certificate and chain (PEM)"),
    pkcs12: Path | None = typer.Option(None, help="generate a key; write a PKCS#12 file here"),
    passphrase_file: Path | None = typer.Option(None, help="the PKCS#12 passphrase, from a file"),
    validity_days: int | None = typer.Option(
        None,
        min=1,
        max=MAX_SUBSCRIBER_VALIDITY_DAYS,
        help=f"default: the profile's validity_days (S/MIME BR 6.3.2 allows "
        f"{BR_MAX_VALIDITY_DAYS}; pkilint warns at it, so at most {MAX_SUBSCRIBER_VALIDITY_DAYS})",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue an S/MIME certificate to a verified mailbox, from a CSR or with a generated key."""
    if (csr is None) == (pkcs12 is None):
        raise malformed("give --csr FILE --out FILE, or --pkcs12 FILE")
    if csr is not None and out is None:
        raise malformed("--csr needs --out FILE for the certificate")
    directory = open_directory()
    passphrase: bytes | None = None
    request: bytes | None = None
    if csr is not None:
        request = _read(csr)
    else:
        if passphrase_file is not None:
            passphrase = _read(passphrase_file).strip()
        else:
            typed = getpass.getpass("PKCS#12 passphrase: ")
            if typed != getpass.getpass("again: "):
                raise malformed("the passphrases differ")
            passphrase = typed.encode("utf-8")
    issued = directory.certificates.issue(
        operator(),
        address,
        csr=request,
        pkcs12_passphrase=passphrase,
        validity_days=validity_days,
    )
    if out is not None:
        out.write_text(issued.pem + issued.chain_pem)
    if pkcs12 is not None and issued.pkcs12 is not None:
        pkcs12.touch(mode=0o600)
        pkcs12.write_bytes(issued.pkcs12)
    summary = {
        "serial": issued.serial_hex,
        "email": issued.email,
        "validation": issued.validation.value,
        "trust_level": issued.trust_level,
        "not_before": issued.not_before,
        "not_after": issued.not_after,
    }
    if as_json:
        emit_json(summary)
    else:
        table("Certificate issued", ["field", "value"], [[k, v] for k, v in summary.items()])


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise malformed(f"{path}: cannot be read ({exc.strerror})") from None


@cert_app.command("revoke")
@translated
def cert_revoke(
    serial: str,
    reason: str = typer.Option(..., help=", ".join(OPERATOR_REASONS)),
) -> None:
    """Revoke a certificate (CRL and OCSP show it at once)."""
    directory = open_directory()
    directory.certificates.revoke(operator(), serial, reason)
    console.print(f"{serial}: revoked ({reason})")


@cert_app.command("list")
@translated
def cert_list(org: str, as_json: bool = typer.Option(False, "--json")) -> None:
    directory = open_directory()
    found = directory.certificates.records.for_organisation(find_organisation(directory, org).id)
    rows = [
        {
            "serial": c.serial,
            "email": c.email,
            "validation": c.validation,
            "trust_level": c.trust_level,
            "not_after": c.not_after,
            "revoked_at": c.revoked_at,
            "reason": c.revocation_reason,
        }
        for c in found
    ]
    if as_json:
        emit_json(rows)
        return
    table("Certificates", list(rows[0]) if rows else ["serial"], [list(r.values()) for r in rows])
