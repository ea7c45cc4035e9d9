"""The CA directory on disk: encrypted keys and certificates, every file mode 0600.

Layout of `<home>/ca/`:
    root.key      root.pem        offline-style root; its key is only used at set-up
    issuing.key   issuing.pem     signs subscriber certificates and CRLs
    ocsp.key      ocsp.pem        delegated OCSP responder (id-pkix-ocsp-nocheck)
    root.crl                      the root's CRL (ARL, DER), served at {base}/root.crl
Keys are PKCS#8 PEM encrypted with the caller's passphrase. Nothing here logs.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pki.errors import PkiError, PkiErrorKind
from pki.keys import CaPrivateKey, decrypt_private_key, encrypt_private_key

FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class CaPaths:
    directory: Path

    @property
    def root_key(self) -> Path:
        return self.directory / "root.key"

    @property
    def root_cert(self) -> Path:
        return self.directory / "root.pem"

    @property
    def issuing_key(self) -> Path:
        return self.directory / "issuing.key"

    @property
    def issuing_cert(self) -> Path:
        return self.directory / "issuing.pem"

    @property
    def root_crl(self) -> Path:
        return self.directory / "root.crl"

    @property
    def ocsp_key(self) -> Path:
        return self.directory / "ocsp.key"

    @property
    def ocsp_cert(self) -> Path:
        return self.directory / "ocsp.pem"

    def all_files(self) -> tuple[Path, ...]:
        return (
            self.root_key,
            self.root_cert,
            self.issuing_key,
            self.issuing_cert,
            self.ocsp_key,
            self.ocsp_cert,
            self.root_crl,
        )


def make_ca_directory(directory: Path) -> CaPaths:
    """Create the CA directory (mode 0700); refuse one that already holds CA files."""
    paths = CaPaths(directory)
    existing = [p.name for p in paths.all_files() if p.exists()]
    if existing:
        raise PkiError(
            PkiErrorKind.CONFLICT, f"{directory} already holds a CA ({', '.join(existing)})"
        )
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    return paths


def write_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write a file created with mode 0600 (never widened by the umask); fsync it."""
    target = path.with_name(path.name + ".tmp") if replace else path
    if replace:
        target.unlink(missing_ok=True)  # left over from an interrupted replacement
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, FILE_MODE)
    except FileExistsError:
        raise PkiError(PkiErrorKind.CONFLICT, f"{target} already exists") from None
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if replace:
        os.replace(target, path)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PkiError(PkiErrorKind.NOT_FOUND, f"{path} does not exist") from None
    except PermissionError:
        raise PkiError(PkiErrorKind.UNAUTHORIZED, f"{path} is not readable") from None


def write_key(path: Path, key: CaPrivateKey, passphrase: bytes, *, replace: bool = False) -> None:
    write_file(path, encrypt_private_key(key, passphrase), replace=replace)


def read_key(path: Path, passphrase: bytes) -> CaPrivateKey:
    """Load an encrypted key; refuse a key file that group or others can read."""
    data = read_file(path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise PkiError(PkiErrorKind.MALFORMED, f"{path}: permissions are too open (must be 0600)")
    return decrypt_private_key(data, passphrase, str(path))


def write_certificate(path: Path, cert: x509.Certificate, *, replace: bool = False) -> None:
    write_file(path, cert.public_bytes(serialization.Encoding.PEM), replace=replace)


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(read_file(path))
    except ValueError:
        raise PkiError(PkiErrorKind.MALFORMED, f"{path}: not a PEM certificate") from None
