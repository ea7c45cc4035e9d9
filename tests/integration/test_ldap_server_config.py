"""The slapd configuration shipped in config/ldap/ (slapd.conf and its cn=config form), with a
real slapd: Clearance publishes as the writer DN of base.ldif; an anonymous reader finds an
address by exact match but cannot list the tree, write, or read the writer's password."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from directory import demo
from directory.publish.connection import LDAPTarget
from directory.publish.publish import LDAPPublisher
from directory.registration import NewMailbox
from directory.service import Directory
from tests.conftest import ADMIN
from tests.support.servers import free_port, require_tool
from tests.support.slapd import wait_listening

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED = ROOT / "config" / "ldap"
SUFFIX = "dc=clearance,dc=example"
WRITER = f"cn=clearance-writer,{SUFFIX}"
PASSWORD = "a writer password for the test"


def _localised(text: str, work: Path) -> str:
    """The shipped file with this test's paths in place of the system's."""
    return (
        text.replace("/var/lib/ldap/clearance", str(work / "db"))
        .replace("/run/slapd/", f"{work}/")
        .replace("/etc/ldap/schema/clearance.schema", str(SHIPPED / "clearance.schema"))
        .replace("file:///etc/ldap/schema/clearance.ldif", f"file://{SHIPPED / 'clearance.ldif'}")
    )


@pytest.fixture(params=["slapd.conf", "cn=config"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    slapd = require_tool("slapd", "/usr/sbin/slapd")
    slapadd = require_tool("slapadd", "/usr/sbin/slapadd")
    slappasswd = require_tool("slappasswd", "/usr/sbin/slappasswd")
    require_tool("ldapsearch")
    work = tmp_path / "slapd"
    (work / "db").mkdir(parents=True)
    if request.param == "slapd.conf":
        conf = work / "slapd.conf"
        conf.write_text(_localised((SHIPPED / "slapd.conf").read_text(), work))
        where = ["-f", str(conf)]
    else:
        config_dir = work / "slapd.d"
        config_dir.mkdir()
        ldif = work / "config.ldif"
        ldif.write_text(_localised((SHIPPED / "slapd-config.ldif").read_text(), work))
        subprocess.run(
            [slapadd, "-n0", "-F", str(config_dir), "-l", str(ldif)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        where = ["-F", str(config_dir)]
    hashed = subprocess.run(
        [slappasswd, "-s", PASSWORD], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()
    base = work / "base.ldif"
    base.write_text(
        (SHIPPED / "base.ldif").read_text().replace("{SSHA}REPLACE-WITH-SLAPPASSWD-OUTPUT", hashed)
    )
    subprocess.run(
        [slapadd, *where, "-b", SUFFIX, "-l", str(base)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    url = f"ldap://127.0.0.1:{port}/"
    with (work / "slapd.log").open("wb") as log:
        process = subprocess.Popen(
            [slapd, "-h", url, *where, "-d", "0"], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_listening(port, process, work)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def search(
    url: str, search_filter: str, *attributes: str, bind: str = "", base: str = SUFFIX
) -> tuple[int, str]:
    credentials = ["-D", bind, "-w", PASSWORD] if bind else []
    done = subprocess.run(
        ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", url, *credentials, "-b", base,
         search_filter, *attributes],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_the_shipped_server_serves_exact_lookups_and_refuses_listing(
    server: str, directory: Directory
) -> None:
    demo.seed(directory)
    wessex = next(o for o in directory.store.organisations() if o.name == "Wessex County Council")
    staff = [NewMailbox(f"officer.{n}@wessex.gov.uk") for n in range(120)]  # more than the limits
    directory.registration.add_mailboxes(ADMIN, wessex.id, staff)
    report = LDAPPublisher(directory, LDAPTarget(server, SUFFIX, WRITER, PASSWORD)).publish()
    assert report.added > 10  # the writer DN may write the whole suffix

    # an anonymous reader: an exact address, and a domain-wide entry, answer
    code, out = search(server, "(mail=j.smith@wessex.gov.uk)", "clearanceMaxClassification")
    assert code == 0 and "clearanceMaxClassification: OFFICIAL-SENSITIVE" in out, out
    code, out = search(server, "(associatedDomain=wessex.gov.uk)", "clearanceEntryKind")
    assert code == 0 and "clearanceEntryKind: domain" in out, out

    # ... but cannot list the tree, whichever way it asks
    for listing in (
        "(objectClass=*)",
        "(mail=*)",
        "(mail=*@wessex.gov.uk)",
        "(objectClass=inetOrgPerson)",
    ):
        code, out = search(server, listing, "mail")
        assert code in (4, 11), (listing, code, out)  # size or administrative limit exceeded
        assert out.count("dn: ") <= 10, listing

    # ... cannot read the writer's password, nor write
    code, out = search(server, "(objectClass=*)", "userPassword", base=WRITER)
    assert code == 0 and "userPassword" not in out, out
    added = subprocess.run(
        ["ldapadd", "-x", "-H", server],
        input=f"dn: cn=intruder,{SUFFIX}\nobjectClass: organizationalRole\ncn: intruder\n",
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode in (8, 50), added  # authentication required, or insufficient access

    # the writer reads everything (sync searches the whole tree)
    code, out = search(server, "(objectClass=*)", "dn", bind=WRITER)
    assert code == 0 and out.count("dn: ") >= report.added + 2  # + the suffix, the writer, ous
