"""`clearance recipient import-ldap` from a real slapd (a second suffix plays the organisation's
own directory), and `clearance ldap publish/sync` configured from the environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from directory import demo
from directory.service import Directory
from directory.store import tables
from tests.integration.ldap_support import BASE, SOURCE, one, published, slapd
from tests.support.slapd import Slapd

pytestmark = pytest.mark.integration
__all__ = ["slapd"]

PEOPLE = [
    ("ann.lee", "ann.lee@wessex.gov.uk", "Ann Lee"),
    ("bob.ray", "Bob.Ray@Wessex.gov.uk", "Bob Ray"),
    ("j.smith", "j.smith@wessex.gov.uk", "Jo Smith"),  # already in the directory
    ("eve", "eve@example.org", "Eve Outsider"),  # not a domain of the council
    ("mal", "mal@casterbridge.gov.uk", "Mal Other"),  # another organisation's domain
    ("bad", "not an address", "Bad Mail"),
    ("twin", "ann.lee@wessex.gov.uk", "Ann Again"),  # given twice
    ("odd", '"o*(t),+<>;="@wessex.gov.uk', 'Odd *()\\,+"<>;= Name'),
]


def _populate(server: Slapd) -> None:
    ldif = [
        f"dn: {SOURCE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n"
    ]
    ldif.append(f"dn: ou=Staff,{SOURCE}\nobjectClass: organizationalUnit\nou: Staff\n")
    for uid, mail, name in PEOPLE:
        given, _, sn = name.partition(" ")
        ldif.append(
            f"dn: uid={uid},ou=Staff,{SOURCE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {name}\nsn: {sn or given}\ngivenName: {given}\ndisplayName: {name}\n"
            f"mail: {mail}\n"
        )
    ldif.append(
        f"dn: uid=nomail,ou=Staff,{SOURCE}\nobjectClass: inetOrgPerson\nuid: nomail\n"
        "cn: No Mail\nsn: Mail\n"
    )
    subprocess.run(
        ["ldapadd", "-x", "-H", server.url, "-D", f"cn=admin,{SOURCE}", "-w", server.password],
        input="\n".join(ldif),
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def _env(directory: Directory, server: Slapd, tmp_path: Path) -> dict[str, str]:
    password = tmp_path / "ldap-password"
    password.write_text(server.password + "\n")
    return {
        "CLEARANCE_HOME": str(directory.settings.home),
        "CLEARANCE_CACHE_REFRESH_SECONDS": "0",
        "CLEARANCE_LDAP_URL": server.url,
        "CLEARANCE_LDAP_BASE_DN": BASE,
        "CLEARANCE_LDAP_BIND_DN": f"cn=admin,{BASE}",
        "CLEARANCE_LDAP_PASSWORD_FILE": str(password),
    }


def test_import_ldap_adds_only_verified_domain_addresses_and_is_idempotent(
    slapd: Slapd, directory: Directory, tmp_path: Path
) -> None:
    demo.seed(directory)
    _populate(slapd)
    env = _env(directory, slapd, tmp_path)
    mapping = tmp_path / "import.toml"
    shipped = Path(__file__).resolve().parents[2] / "config" / "ldap" / "import.toml"
    mapping.write_text(shipped.read_text().replace("page_size = 500", "page_size = 2"))
    runner = CliRunner()
    args = [
        "recipient",
        "import-ldap",
        "wessex.gov.uk",
        "--url",
        slapd.url,
        "--base",
        f"ou=Staff,{SOURCE}",
        "--filter",
        "(objectClass=inetOrgPerson)",
        "--mapping",
        str(mapping),
        "--json",
    ]
    before = directory.store.count(tables.recipients)
    dry = runner.invoke(app, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.output)
    assert plan["dry_run"] and plan["read"] == len(PEOPLE) + 1
    assert sorted(plan["added"]) == sorted(
        ['"o*(t),+<>;="@wessex.gov.uk', "ann.lee@wessex.gov.uk", "bob.ray@wessex.gov.uk"]
    )
    reasons = {s["entry"]: s["reason"] for s in plan["skipped"]}
    assert "is not a domain of Wessex County Council" in reasons["eve@example.org"]
    assert "is not a domain of Wessex County Council" in reasons["mal@casterbridge.gov.uk"]
    assert reasons["not an address"].startswith("not a valid address")
    assert any("no address" in why for why in reasons.values())
    assert any("more than once" in why for why in reasons.values())
    assert plan["renamed"] == []  # j.smith has the same name
    assert directory.store.count(tables.recipients) == before  # a dry run changes nothing
    done = runner.invoke(app, args, env=env)
    assert done.exit_code == 0, done.output
    assert directory.store.count(tables.recipients) == before + 3
    entry = directory.store.mailbox_entry("bob.ray@wessex.gov.uk")
    assert entry is not None and entry.display_name == "Bob Ray" and entry.surname == "Ray"
    audit = directory.store.audit_entries(entity_id=entry.id)
    assert [a.action for a in audit] == ["recipient.add"]
    again = json.loads(runner.invoke(app, args, env=env).output)
    assert again["added"] == [] and again["unchanged"] == 4
    # Published, then read back from slapd.
    synced = runner.invoke(app, ["ldap", "sync", "--json"], env=env)
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.output)["full"] is True
    found = published(slapd, "(clearanceAddress=bob.ray@wessex.gov.uk)")
    assert one(found[0], "cn") == "Bob Ray"
    idle = runner.invoke(app, ["ldap", "sync", "--json"], env=env)
    assert json.loads(idle.output)["operations"] == 1  # nothing changed: only the sequence


def test_ldap_commands_fail_clearly_on_bad_configuration(
    slapd: Slapd, directory: Directory, tmp_path: Path
) -> None:
    env = _env(directory, slapd, tmp_path)
    runner = CliRunner()
    missing = runner.invoke(app, ["ldap", "publish"], env={**env, "CLEARANCE_LDAP_URL": ""})
    assert missing.exit_code == 2 and "ldap_url" in missing.output
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    refused = runner.invoke(
        app, ["ldap", "publish"], env={**env, "CLEARANCE_LDAP_PASSWORD_FILE": str(wrong)}
    )
    assert refused.exit_code == 2 and "refused" in refused.output
    down = runner.invoke(
        app, ["ldap", "sync"], env={**env, "CLEARANCE_LDAP_URL": "ldap://127.0.0.1:1/"}
    )
    assert down.exit_code == 3
