"""DNS verification and posture against a real Knot DNS server (signing its zones, taking
dynamic updates) and a real HTTPS server for MTA-STS policies with a test CA."""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from directory.authz import Principal
from directory.errors import DirectoryError, ErrorKind
from directory.model import TrustLevel
from directory.service import Directory
from directory.settings import load_settings
from directory.store import tables as t
from directory.verification.service import DnsVerification
from tests.conftest import ADMIN, START, FrozenClock
from tests.integration.dns_lab import ENFORCE, DnsLab, cli_with_organisation, start_lab
from tests.support.policy_server import Policy
from tests.support.servers import free_port, require_tool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[DnsLab]:
    knotd = require_tool("knotd", "/usr/sbin/knotd")
    with tempfile.TemporaryDirectory(prefix="clearance-dns-") as tmp:
        started = start_lab(knotd, Path(tmp))
        try:
            yield started
        finally:
            started.stop()


def make(tmp_path: Path, clock: FrozenClock, lab: DnsLab, **extra: object) -> Directory:
    settings = load_settings(home=tmp_path / "home", cache_refresh_seconds=0.0, **lab.settings())
    for key, value in extra.items():
        setattr(settings, key, value)
    directory = Directory(settings, clock)
    directory.initialise()
    return directory


@pytest.fixture
def directory(tmp_path: Path, clock: FrozenClock, lab: DnsLab) -> Iterator[Directory]:
    d = make(tmp_path, clock, lab)
    yield d
    d.close()


def accredited_org(directory: Directory, name: str = "Wessex County Council") -> str:
    reg = directory.registration
    org = reg.create_organisation(ADMIN, name, "local-government", {"gss": "E10000000"})
    reg.vet_organisation(ADMIN, org.id, "checked against the GSS register")
    reg.set_status(ADMIN, org.id, "active", "vetted")
    reg.add_accreditation(
        ADMIN,
        org.id,
        "cyber-essentials-plus",
        "certificate 123",
        START - timedelta(days=30),
        START + timedelta(days=300),
    )
    return org.id


def codes(result: Any) -> set[str]:
    return {f.code for f in result.findings}


def publish(lab: DnsLab, zone: str, owner: str, *strings: str) -> None:
    data = " ".join(json.dumps(s) for s in strings)
    lab.knot.update(zone, ("replace", owner, "TXT", data))


# --- posture ---------------------------------------------------------------------------------
def test_good_domain_has_full_posture(directory: Directory) -> None:
    result = DnsVerification(directory).preview(ADMIN, "good.test")
    posture = result.posture
    assert posture is not None and posture.source == "dns"
    assert (posture.mx, posture.mta_sts, posture.dane, posture.dmarc.label) == (  # type: ignore[union-attr]
        True,
        "enforce",
        True,
        "reject",
    )
    assert {"spf.ok", "dmarc.ok", "mta_sts.ok", "tlsrpt.ok", "dane.ok"} <= codes(result)
    assert result.records["mta_sts"]["policy"] == ENFORCE
    assert "10 mx1.good.test." in result.records["mx"]


@pytest.mark.parametrize(
    ("domain", "expected", "dane", "dmarc"),
    [
        ("weak.test", {"dane.unsigned", "dmarc.policy-none", "spf.neutral-all"}, False, "none"),
        ("bogus.test", {"dane.bogus", "spf.missing"}, False, "reject"),
        ("twospf.test", {"spf.multiple", "dmarc.malformed", "dane.missing"}, False, None),
        ("manylookups.test", {"spf.too-many-lookups", "dmarc.partial"}, False, "none"),
        ("redirect.test", {"mta_sts.policy-unavailable", "dmarc.missing"}, False, None),
        ("island.test", {"dane.unchained", "dmarc.ok"}, False, "reject"),
        ("sub.good.test", {"dmarc.org-fallback", "dane.ok"}, True, "quarantine"),
    ],
)
def test_weak_and_broken_domains(
    directory: Directory, domain: str, expected: set[str], dane: bool, dmarc: str | None
) -> None:
    result = DnsVerification(directory).preview(ADMIN, domain)
    assert result.posture is not None
    assert expected <= codes(result), codes(result)
    assert result.posture.dane is dane
    have = result.posture.dmarc
    assert (have.label if have is not None else None) == dmarc
    assert result.posture.mta_sts is None


def test_null_mx_means_no_mail(directory: Directory) -> None:
    result = DnsVerification(directory).preview(ADMIN, "loop.test")
    assert result.posture is not None and result.posture.mx is False
    assert "mx.null" in codes(result)


def test_policy_certificate_must_match_the_name(
    tmp_path: Path, clock: FrozenClock, lab: DnsLab
) -> None:
    other = tmp_path / "other-ca.pem"
    from tests.support.testca import TestCA

    TestCA().write_ca(other)  # a CA the policy server's certificate does not chain to
    d = make(tmp_path, clock, lab, mta_sts_ca_file=str(other))
    try:
        result = DnsVerification(d).preview(ADMIN, "good.test")
    finally:
        d.close()
    assert result.posture is not None and result.posture.mta_sts is None
    assert "mta_sts.policy-unavailable" in codes(result)


def test_an_unreachable_policy_host_keeps_the_other_findings(
    tmp_path: Path, clock: FrozenClock, lab: DnsLab
) -> None:
    """The MTA-STS policy host refuses connections: its own finding, the check is incomplete
    (nothing recorded), and MX, SPF, DMARC, TLS-RPT and DANE are still reported."""
    d = make(tmp_path, clock, lab, mta_sts_port=free_port())  # nothing listens there
    try:
        result = DnsVerification(d).preview(ADMIN, "good.test")
    finally:
        d.close()
    assert result.temporary_failure and result.as_dict()["status"] == "temporary-failure"
    found = codes(result)
    assert "mta_sts.policy-unreachable" in found and "dns.temporary-failure" not in found
    assert {"mx.present", "spf.ok", "dmarc.ok", "tlsrpt.ok", "dane.ok"} <= found, found
    assert "10 mx1.good.test." in result.records["mx"]


def test_a_weak_zones_unsigned_tlsa_says_unsigned(directory: Directory) -> None:
    result = DnsVerification(directory).preview(ADMIN, "weak.test")
    assert "dane.unsigned" in codes(result) and "dane.unchained" not in codes(result)


# --- claims and challenges -------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["gov.uk", "co.uk", "github.io", "police.uk"])
def test_public_suffixes_are_refused(directory: Directory, suffix: str) -> None:
    org = accredited_org(directory)
    before = directory.store.count(t.audit_log)
    with pytest.raises(DirectoryError) as caught:
        DnsVerification(directory).claim(ADMIN, org, suffix)
    assert caught.value.kind is ErrorKind.MALFORMED and "public suffix" in caught.value.detail
    assert directory.store.count(t.audit_log) == before
    assert directory.store.domain_by_name(suffix) is None


def test_claim_needs_the_organisations_admin(directory: Directory) -> None:
    org = accredited_org(directory)
    other = Principal("test:other", frozenset({f"org-admin:{'0' * 8}-0000-0000-0000-{'0' * 12}"}))
    with pytest.raises(DirectoryError) as caught:
        DnsVerification(directory).claim(other, org, "good.test")
    assert caught.value.kind is ErrorKind.FORBIDDEN
    with pytest.raises(DirectoryError):
        DnsVerification(directory).preview(Principal("x", frozenset({f"org-admin:{org}"})), "a.b")


def test_verify_by_dynamic_update_then_lose_it(
    directory: Directory, lab: DnsLab, clock: FrozenClock
) -> None:
    service = DnsVerification(directory)
    org = accredited_org(directory)
    challenge = service.claim(ADMIN, org, "good.test")
    token = challenge.value.split()[0].removeprefix("token=")
    assert len(token) >= 26 and challenge.value.split()[1] == (
        "expiry=" + (START + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    domain_id = challenge.domain.id
    first = service.verify(ADMIN, domain_id)
    assert not first.verified and "challenge.missing" in codes(first)

    publish(lab, "good.test", "_clearance-challenge", challenge.value)
    result = service.verify(ADMIN, domain_id)
    assert result.verified, result.as_dict()
    assert result.dnssec == "secure" and "challenge.dnssec-secure" in codes(result)  # SMC014
    domain = directory.store.domain(domain_id)
    assert domain is not None and domain.verified_at == START
    assert domain.verification_method == "dns" and token in (domain.verification_evidence or "")
    audit = directory.store.audit_entries(entity_id=domain_id, limit=100)
    verified = [e for e in audit if e.action == "domain.verify-dns"]
    assert verified and verified[-1].actor == ADMIN.name
    assert token in verified[-1].after["verification_evidence"]  # type: ignore[index]

    directory.registration.add_recipient(ADMIN, org, domain="good.test")
    service.check(ADMIN, domain_id)
    answer = directory.lookup.lookup("anyone@good.test", "OFFICIAL-SENSITIVE", lambda _o: True)
    assert answer["trust_level"] == TrustLevel.ACCREDITED.label and answer["permitted"] is True

    # The record goes; the next scheduled re-verification takes the verification away.
    lab.knot.update("good.test", ("delete", "_clearance-challenge", "TXT", ""))
    clock.advance(days=8)
    report = service.run_due(ADMIN)
    assert {"domain": "good.test", "job": "verify"}.items() <= report[0].items()
    domain = directory.store.domain(domain_id)
    assert domain is not None and domain.verified_at is None
    lost = [e for e in directory.store.audit_entries(entity_id=domain_id, limit=100)]
    assert lost[-2].action == "domain.verify-dns-failed" or any(
        e.action == "domain.verify-dns-failed" for e in lost
    )
    answer = directory.lookup.lookup("anyone@good.test", "OFFICIAL", lambda _o: True)
    assert answer["max_classification"] is None and answer["trust_level"] == "none"
    assert "domain.unverified" in {r["code"] for r in answer["reasons"]}


@pytest.mark.parametrize(
    ("zone", "verified", "security"),
    [("bogus.test", False, "bogus"), ("weak.test", True, "insecure")],
)
def test_the_challenge_is_dnssec_validated(
    directory: Directory, lab: DnsLab, zone: str, verified: bool, security: str
) -> None:
    """S/MIME BR ballot SMC014: a challenge record whose signatures do not validate does not
    count; one in an unsigned zone counts, as before."""
    service = DnsVerification(directory)
    challenge = service.claim(ADMIN, accredited_org(directory), zone)
    publish(lab, zone, "_clearance-challenge", challenge.value)
    try:
        result = service.verify(ADMIN, challenge.domain.id)
    finally:
        lab.knot.update(zone, ("delete", "_clearance-challenge", "TXT", ""))
    assert result.verified is verified and result.dnssec == security, result.as_dict()
    assert ("challenge.dnssec-bogus" in codes(result)) is (security == "bogus")
    domain = directory.store.domain(challenge.domain.id)
    assert domain is not None and (domain.verified_at is not None) is verified


def test_cname_delegation_and_split_strings(directory: Directory, lab: DnsLab) -> None:
    service = DnsVerification(directory)
    challenge = service.claim(ADMIN, accredited_org(directory), "delegated.test")
    half = len(challenge.value) // 2
    publish(
        lab,
        "provider.test",
        "delegated.challenges",
        challenge.value[:half],
        challenge.value[half:],
    )
    result = service.verify(ADMIN, challenge.domain.id)
    assert result.verified, result.as_dict()
    assert result.chain == ["delegated.challenges.provider.test."]
    assert "challenge.cname-followed" in codes(result)


def test_cname_loop_is_refused(directory: Directory) -> None:
    service = DnsVerification(directory)
    challenge = service.claim(ADMIN, accredited_org(directory), "loop.test")
    result = service.verify(ADMIN, challenge.domain.id)
    assert not result.verified and "challenge.cname-loop" in codes(result)
    domain = directory.store.domain(challenge.domain.id)
    assert domain is not None and domain.verified_at is None


def test_expired_challenges(directory: Directory, lab: DnsLab, clock: FrozenClock) -> None:
    service = DnsVerification(directory)
    challenge = service.claim(ADMIN, accredited_org(directory), "expired.test")
    token = challenge.token
    publish(
        lab, "expired.test", "_clearance-challenge", f"token={token} expiry=2020-01-01T00:00:00Z"
    )
    result = service.verify(ADMIN, challenge.domain.id)
    assert not result.verified and "challenge.expired" in codes(result)

    publish(lab, "expired.test", "_clearance-challenge", challenge.value)
    clock.advance(days=8)  # past the issued expiry: the record alone is not enough
    result = service.verify(ADMIN, challenge.domain.id)
    assert not result.verified and "challenge.expired" in codes(result)


# --- the policy follows the posture ----------------------------------------------------------
def _verified_domain(directory: Directory, lab: DnsLab, name: str) -> str:
    service = DnsVerification(directory)
    org = accredited_org(directory, f"Org of {name}")
    challenge = service.claim(ADMIN, org, name)
    publish(lab, name, "_clearance-challenge", challenge.value)
    assert service.verify(ADMIN, challenge.domain.id).verified
    directory.registration.add_recipient(ADMIN, org, domain=name)
    return challenge.domain.id


def _answer(directory: Directory, address: str) -> dict[str, Any]:
    return directory.lookup.lookup(address, "OFFICIAL-SENSITIVE", lambda _o: True)


def test_dropping_dmarc_reject_loses_official_sensitive(directory: Directory, lab: DnsLab) -> None:
    domain_id = _verified_domain(directory, lab, "good.test")
    service = DnsVerification(directory)
    service.check(ADMIN, domain_id)
    assert _answer(directory, "a@good.test")["max_classification"] == "OFFICIAL-SENSITIVE"
    try:
        publish(lab, "good.test", "_dmarc", "v=DMARC1; p=none; rua=mailto:d@good.test")
        result = service.check(ADMIN, domain_id)
        assert "dmarc.policy-none" in codes(result)
        answer = _answer(directory, "a@good.test")
        assert answer["max_classification"] == "OFFICIAL" and answer["permitted"] is False
        reasons = {r["code"]: r["message"] for r in answer["reasons"]}
        assert "posture.dmarc" in reasons and "has none" in reasons["posture.dmarc"]
        stored = directory.store.domain_row(domain_id)["posture"]  # type: ignore[index]
        assert any(f["code"] == "dmarc.policy-none" for f in stored["findings"])
        assert stored["records"]["dmarc"]["records"] == ["v=DMARC1; p=none; rua=mailto:d@good.test"]
    finally:
        publish(
            lab,
            "good.test",
            "_dmarc",
            "v=DMARC1; p=reject; sp=quarantine; pct=100; t=n; np=reject; rua=mailto:d@good.test",
        )


def test_dropping_mta_sts_enforce_loses_official_sensitive(
    directory: Directory, lab: DnsLab
) -> None:
    domain_id = _verified_domain(directory, lab, "sts.test")  # no DANE: MTA-STS is all it has
    service = DnsVerification(directory)
    service.check(ADMIN, domain_id)
    assert _answer(directory, "a@sts.test")["max_classification"] == "OFFICIAL-SENSITIVE"
    saved = lab.policies.policies["mta-sts.sts.test"]
    try:
        lab.policies.policies["mta-sts.sts.test"] = Policy(
            "version: STSv1\nmode: testing\nmx: mx.sts.test\nmax_age: 86400\n"
        )
        lab.knot.update("sts.test", ("replace", "_mta-sts", "TXT", '"v=STSv1; id=2"'))
        result = service.check(ADMIN, domain_id)
        assert "mta_sts.testing" in codes(result)
        answer = _answer(directory, "a@sts.test")
        assert answer["max_classification"] == "OFFICIAL"
        assert "posture.transport" in {r["code"] for r in answer["reasons"]}
    finally:
        lab.policies.policies["mta-sts.sts.test"] = saved


# --- temporary failures keep the last good state ---------------------------------------------
@pytest.fixture
def silent_nameserver() -> Iterator[str]:
    """A UDP socket that never answers: every query to it times out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", free_port()))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_timeout_keeps_the_last_good_state(
    directory: Directory, lab: DnsLab, silent_nameserver: str, clock: FrozenClock
) -> None:
    domain_id = _verified_domain(directory, lab, "good.test")
    DnsVerification(directory).check(ADMIN, domain_id)
    before = directory.store.domain(domain_id)
    assert before is not None and before.posture is not None
    clock.advance(days=8)
    directory.settings.dns_nameservers = silent_nameserver
    directory.settings.dns_timeout = 0.2
    directory.settings.dns_retries = 0
    broken = DnsVerification(directory)
    result = broken.check(ADMIN, domain_id)
    assert result.temporary_failure and codes(result) == {"dns.temporary-failure"}
    challenge = broken.verify(ADMIN, domain_id)
    assert challenge.temporary_failure and not challenge.verified
    after = directory.store.domain(domain_id)
    assert after is not None
    assert after.posture == before.posture and after.verified_at == before.verified_at
    actions = [e.action for e in directory.store.audit_entries(entity_id=domain_id, limit=100)]
    assert actions[-2:] == ["domain.posture-dns-deferred", "domain.verify-dns-deferred"]


def test_servfail_keeps_the_last_good_state(directory: Directory) -> None:
    org = accredited_org(directory)
    service = DnsVerification(directory)
    challenge = service.claim(ADMIN, org, "servfail.test")
    reg = directory.registration
    reg.record_domain_verification(ADMIN, challenge.domain.id, "checked by hand")
    reg.record_posture(
        ADMIN, challenge.domain.id, evidence="by hand", mta_sts="enforce", dmarc="reject"
    )
    before = directory.store.domain(challenge.domain.id)
    result = service.check(ADMIN, challenge.domain.id)
    assert result.temporary_failure and "SERVFAIL" in result.findings[0].message
    assert service.verify(ADMIN, challenge.domain.id).temporary_failure
    assert directory.store.domain(challenge.domain.id) == before


# --- transports ------------------------------------------------------------------------------
def test_http_api(directory: Directory) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    org = accredited_org(directory)
    _key, org_secret = directory.registration.create_api_key(ADMIN, "org", [f"org-admin:{org}"])
    _key, admin_secret = directory.registration.create_api_key(ADMIN, "adm", ["directory-admin"])
    as_org = {"Authorization": f"Bearer {org_secret}"}
    as_admin = {"Authorization": f"Bearer {admin_secret}"}
    with TestClient(create_app(directory=directory)) as client:
        refused = client.post(
            f"/v1/admin/organisations/{org}/domains/claim", json={"name": "co.uk"}, headers=as_org
        )
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/problem+json")
        claimed = client.post(
            f"/v1/admin/organisations/{org}/domains/claim",
            json={"name": "weak.test"},
            headers=as_org,
        )
        assert claimed.status_code == 201, claimed.text
        body = claimed.json()
        assert body["record"]["name"] == "_clearance-challenge.weak.test"
        domain_id = body["domain_id"]
        verify = client.post(f"/v1/admin/domains/{domain_id}/verify", headers=as_org)
        assert verify.status_code == 200 and verify.json()["status"] == "not-verified"
        check = client.post(f"/v1/admin/domains/{domain_id}/check", headers=as_org)
        assert check.status_code == 200 and check.json()["posture"]["dmarc"] == "none"
        preview = client.post("/v1/admin/domains/check", json={"name": "good.test"}, headers=as_org)
        assert preview.status_code == 403
        preview = client.post(
            "/v1/admin/domains/check", json={"name": "good.test"}, headers=as_admin
        )
        assert preview.status_code == 200 and preview.json()["posture"]["dane"] is True
    stored = directory.store.domain(domain_id)
    assert stored is not None and stored.posture is not None and stored.posture.source == "dns"


def test_cli(tmp_path: Path, lab: DnsLab, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, app, org_id = cli_with_organisation(lab, tmp_path / "cli-home", monkeypatch)
    refused = runner.invoke(app, ["domain", "claim", org_id, "gov.uk"])
    assert refused.exit_code == 2
    claimed = runner.invoke(app, ["domain", "claim", org_id, "twospf.test", "--json"])
    assert claimed.exit_code == 0, claimed.output
    assert json.loads(claimed.stdout)["record"]["name"] == "_clearance-challenge.twospf.test"
    assert runner.invoke(app, ["domain", "verify", "twospf.test"]).exit_code == 1
    checked = runner.invoke(app, ["domain", "check", "twospf.test", "--json"])
    assert checked.exit_code == 0, checked.output
    data = json.loads(checked.stdout)
    assert data["recorded"] is True and "spf.multiple" in {f["code"] for f in data["findings"]}
    table = runner.invoke(app, ["domain", "check", "good.test"])
    assert table.exit_code == 0 and "dane.ok" in table.stdout and "not recorded" in table.stdout
    due = runner.invoke(app, ["verify", "due", "--json"])
    assert due.exit_code == 0, due.output
    assert {(r["domain"], r["job"]) for r in json.loads(due.stdout)} == {("twospf.test", "verify")}
