"""Schema files, import mapping, bulk registration and CSV import (no LDAP server needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from directory.configfile import ConfigError
from directory.errors import DirectoryError
from directory.publish.entries import Layout
from directory.publish.importer import Mapping, RecipientImport, read_csv
from directory.publish.publish import any_of
from directory.registration import NewMailbox
from directory.service import Directory
from directory.store import tables as t
from tests.conftest import ADMIN

CONFIG = Path(__file__).resolve().parents[3] / "config" / "ldap"


def _definitions(text: str) -> list[str]:
    body = " ".join(line.strip() for line in text.splitlines() if not line.startswith("#"))
    return sorted(re.findall(r"\( (2\.25\.\d+\.\d+\.\d+) NAME '(\w+)'", body))


def test_schema_and_cn_config_ldif_define_the_same_types() -> None:
    schema = (CONFIG / "clearance.schema").read_text()
    ldif = (CONFIG / "clearance.ldif").read_text()
    unfolded = re.sub(r"\n ", "", ldif)
    assert _definitions(schema) == _definitions(unfolded)
    assert len(_definitions(schema)) == 19  # 15 attribute types, 4 object classes


def test_dns_and_filters_escape_every_special() -> None:
    layout = Layout("dc=clearance,dc=test")
    dn = layout.dn(("recipient", '"a,b+c=d<e>f;g\\\\h\\""@x.org'))
    assert dn.startswith('clearanceAddress=\\"a\\,b\\+c\\=d\\<e\\>f\\;g\\\\\\\\h\\\\\\"\\"@x.org,')
    (search,) = list(any_of("clearanceAddress", ["a*(b)\\c@x.org"]))
    assert search == "(|(clearanceAddress=a\\2a\\28b\\29\\5cc@x.org))"


def test_the_shipped_mapping_loads_and_bad_ones_are_refused(tmp_path: Path) -> None:
    mapping = Mapping.load(CONFIG / "import.toml")
    assert mapping.ldap["address"] == ("mail",) and mapping.page_size == 500
    bad = tmp_path / "bad.toml"
    bad.write_text('[ldap.attributes]\nemail = "mail"\n[csv.columns]\naddress = "a"\n')
    with pytest.raises(ConfigError, match="email"):
        Mapping.load(bad)


def _council(directory: Directory) -> str:
    reg = directory.registration
    org = reg.create_organisation(ADMIN, "Test Council", "local-government", {"gss": "E1"})
    domain = reg.claim_domain(ADMIN, org.id, "test.gov.uk")
    reg.record_domain_verification(ADMIN, domain.id, "test")
    reg.claim_domain(ADMIN, org.id, "pending.gov.uk")
    return org.id


def test_add_mailboxes_audits_each_and_is_all_or_nothing(directory: Directory) -> None:
    org_id = _council(directory)
    before = len(directory.store.audit_entries(limit=10**6))
    added = directory.registration.add_mailboxes(
        ADMIN, org_id, [NewMailbox("a@test.gov.uk"), NewMailbox("B@Test.gov.uk", "Bea")]
    )
    assert added == 2
    entries = directory.store.audit_entries(after=before, limit=100)
    assert [e.action for e in entries] == ["recipient.add", "recipient.add"]
    recipients = directory.store.count(t.recipients)
    with pytest.raises(DirectoryError, match="already in the directory"):
        directory.registration.add_mailboxes(
            ADMIN, org_id, [NewMailbox("c@test.gov.uk"), NewMailbox("a@test.gov.uk")]
        )
    with pytest.raises(DirectoryError, match="not a domain"):
        directory.registration.add_mailboxes(
            ADMIN, org_id, [NewMailbox("c@test.gov.uk"), NewMailbox("x@other.org")]
        )
    assert directory.store.count(t.recipients) == recipients


def test_csv_import_plans_applies_and_reruns_idempotently(
    directory: Directory, tmp_path: Path
) -> None:
    org_id = _council(directory)
    source = tmp_path / "staff.csv"
    source.write_text(
        "address,display_name,role\n"
        "ann@test.gov.uk,Ann,person\n"
        "team@test.gov.uk,Team,shared\n"
        "p@pending.gov.uk,Pending,person\n"
        "x@elsewhere.org,Else,person\n"
        "odd@test.gov.uk,Odd,wizard\n"
        ",No address,person\n"
    )
    mapping = Mapping.load(CONFIG / "import.toml")
    importer = RecipientImport(directory, ADMIN, org_id)
    plan = importer.plan(read_csv(source, mapping))
    assert [m.address for m in plan.add] == ["ann@test.gov.uk", "team@test.gov.uk"]
    why = dict(plan.skipped)
    assert why["p@pending.gov.uk"] == "pending.gov.uk is not verified yet"
    assert why["x@elsewhere.org"] == "elsewhere.org is not a domain of Test Council"
    assert why["odd@test.gov.uk"] == "unknown role 'wizard'"
    assert why["line 7"] == "no address in the source record"
    assert importer.apply(plan) == 2
    team = directory.store.mailbox_entry("team@test.gov.uk")
    assert team is not None and team.role.value == "shared"
    again = importer.plan(read_csv(source, mapping))
    assert again.add == [] and sorted(again.unchanged) == ["ann@test.gov.uk", "team@test.gov.uk"]
    source.write_text("address,display_name\nann@test.gov.uk,Ann Renamed\n")
    renamed = importer.plan(read_csv(source, mapping))
    assert [a for _, a, _ in renamed.rename] == ["ann@test.gov.uk"]


def test_csv_without_an_address_column_is_refused(directory: Directory, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("name\nAnn\n")
    with pytest.raises(DirectoryError, match="address column"):
        list(read_csv(source, Mapping.load(CONFIG / "import.toml")))


def test_a_tagged_address_on_a_sub_addressing_domain_is_skipped_not_fatal(
    directory: Directory, tmp_path: Path
) -> None:
    """Lookups strip `+tag` on such a domain, so the entry could never match: the import skips
    it and says why, and the rest of its chunk is still added."""
    reg = directory.registration
    org = reg.create_organisation(ADMIN, "Tag Council", "local-government", {"gss": "E2"})
    domain = reg.claim_domain(ADMIN, org.id, "tag.gov.uk", subaddress_separator="+")
    reg.record_domain_verification(ADMIN, domain.id, "test")
    source = tmp_path / "staff.csv"
    source.write_text("address,display_name\nann+news@tag.gov.uk,Ann\nbob@tag.gov.uk,Bob\n")
    importer = RecipientImport(directory, ADMIN, org.id)
    plan = importer.plan(read_csv(source, Mapping.load(CONFIG / "import.toml")))
    assert [m.address for m in plan.add] == ["bob@tag.gov.uk"]
    assert dict(plan.skipped) == {"ann+news@tag.gov.uk": "tag.gov.uk uses '+' for sub-addresses"}
    assert importer.apply(plan) == 1
    assert directory.store.mailbox_entry("bob@tag.gov.uk") is not None
