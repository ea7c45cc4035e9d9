"""A private OpenLDAP slapd on 127.0.0.1 and a free port, configured (cn=config, built with
`slapadd -n0`) in a temporary directory: core, cosine, inetorgperson and Clearance's schema, and
one mdb database per suffix. Used by the LDAP integration tests and bench/ldap.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CLEARANCE_SCHEMA = ROOT / "config" / "ldap" / "clearance.ldif"
SYSTEM_SCHEMAS = ("core", "cosine", "inetorgperson")
INDEXES = (
    "objectClass eq",
    "mail eq",
    "clearanceAddress eq",
    "associatedDomain eq",
    "clearanceOrganisationId eq",
    "clearanceValidUntil eq",
)


@dataclass(frozen=True)
class Slapd:
    url: str
    port: int
    root_dn: dict[str, str]  # suffix -> root DN
    password: str
    workdir: Path

    def ldapsearch(self, base: str, search_filter: str, *attributes: str) -> str:
        """Read back with the ldap-utils client, anonymously (as any reader would)."""
        result = subprocess.run(
            [
                "ldapsearch",
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                self.url,
                "-b",
                base,
                search_filter,
                *attributes,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode not in (0, 32):  # 32: no such object
            raise RuntimeError(f"ldapsearch failed ({result.returncode}): {result.stderr}")
        return result.stdout


def _schema_ldif(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))


def config_ldif(workdir: Path, suffixes: list[str], password: str) -> str:
    parts = [
        f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {workdir}/slapd.pid
olcArgsFile: {workdir}/slapd.args

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
"""
    ]
    for name in SYSTEM_SCHEMAS:
        parts.append(_schema_ldif(Path(f"/etc/ldap/schema/{name}.ldif")))
    parts.append(_schema_ldif(CLEARANCE_SCHEMA))
    parts.append(
        """dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none
"""
    )
    for number, suffix in enumerate(suffixes, start=1):
        db = workdir / f"db{number}"
        db.mkdir()
        indexes = "\n".join(f"olcDbIndex: {i}" for i in INDEXES)
        parts.append(
            f"""dn: olcDatabase={{{number}}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{{number}}}mdb
olcSuffix: {suffix}
olcRootDN: cn=admin,{suffix}
olcRootPW: {password}
olcDbDirectory: {db}
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcSizeLimit: unlimited
olcAccess: {{0}}to * by * read
{indexes}
"""
        )
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


@contextmanager
def slapd_server(
    workdir: Path, suffixes: list[str], slapd: str, slapadd: str, *, password: str = "secret"
) -> Iterator[Slapd]:
    config = workdir / "slapd.d"
    config.mkdir()
    ldif = workdir / "config.ldif"
    ldif.write_text(config_ldif(workdir, suffixes, password))
    subprocess.run(
        [slapadd, "-n0", "-F", str(config), "-l", str(ldif)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    from tests.support.servers import free_port

    port = free_port()
    url = f"ldap://127.0.0.1:{port}/"
    log = (workdir / "slapd.log").open("wb")
    process = subprocess.Popen(
        [slapd, "-h", url, "-F", str(config), "-d", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, workdir)
        yield Slapd(url, port, {s: f"cn=admin,{s}" for s in suffixes}, password, workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def wait_listening(port: int, process: subprocess.Popen[bytes], workdir: Path) -> None:
    """Until slapd accepts connections on `port` (its log in workdir when it exits first)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"slapd exited ({process.returncode}): {(workdir / 'slapd.log').read_text()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("slapd did not start within 30 s")


def binaries() -> tuple[str, str] | None:
    slapd = shutil.which("slapd") or (
        "/usr/sbin/slapd" if os.path.exists("/usr/sbin/slapd") else None
    )
    slapadd = shutil.which("slapadd") or (
        "/usr/sbin/slapadd" if os.path.exists("/usr/sbin/slapadd") else None
    )
    return (slapd, slapadd) if slapd and slapadd else None
