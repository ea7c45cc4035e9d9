"""The DNS lab for the verification tests: Knot DNS with good, weak and broken zones, an HTTPS
server for MTA-STS policies with a test CA, and DNSSEC trust anchors taken from Knot's keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.support.knot import KnotServer
from tests.support.policy_server import Policy, PolicyServer
from tests.support.servers import free_port
from tests.support.testca import TestCA

TLSA = "3 1 1 " + "ab" * 32
ENFORCE = "version: STSv1\nmode: enforce\nmx: mx1.good.test\nmax_age: 604800\n"

GOOD = f"""
@ MX 10 mx1
mx1 A 127.0.0.1
@ TXT "v=spf1 mx ip4:192.0.2.0/24 -all"
_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; pct=100; t=n; np=reject; rua=mailto:d@good.test"
_mta-sts TXT "v=STSv1; id=20261101"
mta-sts A 127.0.0.1
_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.test"
_25._tcp.mx1 TLSA {TLSA}
sub MX 10 mx1
sub TXT "v=spf1 -all"
"""
WEAK = f"""
@ MX 10 mail
mail A 127.0.0.1
@ TXT "v=spf1 include:_spf.weak.test ?all"
_spf TXT "v=spf1 ip4:192.0.2.1 " "~all"
_dmarc TXT "v=DMARC1; p=none"
_25._tcp.mail TLSA {TLSA}
"""
# signed, but no trust anchor or DS reaches it: its TLSA is signed yet unchained
ISLAND = f"""
@ MX 10 mx
mx A 127.0.0.1
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@island.test"
_25._tcp.mx TLSA {TLSA}
"""
BOGUS = f"""
@ MX 10 mx
mx A 127.0.0.1
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@bogus.test"
_25._tcp.mx TLSA {TLSA}
"""
TWOSPF = """
@ MX 10 mx
mx A 127.0.0.1
@ TXT "v=spf1 -all"
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p=rejectt"
"""
MANYLOOKUPS = """
@ MX 10 mx
mx A 127.0.0.1
@ TXT "v=spf1 a mx include:a.manylookups.test include:b.manylookups.test -all"
a TXT "v=spf1 a mx ptr exists:x.test include:b.manylookups.test -all"
b TXT "v=spf1 a mx exists:y.test a:z.test mx:w.test -all"
_dmarc TXT "v=DMARC1; p=quarantine; pct=50; rua=mailto:d@manylookups.test"
"""
LOOP = """
_clearance-challenge CNAME hop._clearance-challenge
hop._clearance-challenge CNAME _clearance-challenge
@ MX 0 .
"""
DELEGATED = """
_clearance-challenge CNAME delegated.challenges.provider.test.
@ MX 10 mx
mx A 127.0.0.1
"""
PROVIDER = """
@ TXT "a provider's zone: challenge records are added by dynamic update"
"""
TESTING = """
@ MX 10 mx
mx A 127.0.0.1
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@sts.test"
_mta-sts TXT "v=STSv1; id=1"
mta-sts A 127.0.0.1
"""
REDIRECT = """
@ MX 10 mx
mx A 127.0.0.1
_mta-sts TXT "v=STSv1; id=1"
mta-sts A 127.0.0.1
"""


@dataclass
class DnsLab:
    knot: KnotServer
    policies: PolicyServer
    ca_file: Path
    anchors_file: Path

    def settings(self, **extra: object) -> dict[str, object]:
        values: dict[str, object] = {
            "dns_nameservers": f"127.0.0.1:{self.knot.port}",
            "dns_timeout": 2.0,
            "dns_retries": 1,
            "dns_trust_anchors": str(self.anchors_file),
            "mta_sts_ca_file": str(self.ca_file),
            "mta_sts_port": self.policies.port,
            "mta_sts_timeout": 5.0,
        }
        values.update(extra)
        return values

    def stop(self) -> None:
        self.policies.stop()
        self.knot.stop()


def start_lab(knotd: str, directory: Path) -> DnsLab:
    knot = KnotServer(knotd, directory / "knot", free_port())
    knot.add_zone("good.test", GOOD, signed=True)
    knot.add_zone("bogus.test", BOGUS, signed=True)
    knot.add_zone("weak.test", WEAK)
    knot.add_zone("island.test", ISLAND, signed=True)
    knot.add_zone("twospf.test", TWOSPF)
    knot.add_zone("manylookups.test", MANYLOOKUPS)
    knot.add_zone("loop.test", LOOP)
    knot.add_zone("delegated.test", DELEGATED)
    knot.add_zone("provider.test", PROVIDER)
    knot.add_zone("expired.test", "@ MX 10 mx.good.test.\n")
    knot.add_zone("sts.test", TESTING)
    knot.add_zone("redirect.test", REDIRECT)
    knot.add_zone("servfail.test", "this is not a zone file {\n", broken=True)
    knot.start()
    ca = TestCA()
    ca_file = ca.write_ca(directory / "ca.pem")
    names = ["mta-sts.good.test", "mta-sts.sts.test", "mta-sts.redirect.test"]
    cert, key = ca.issue(names, directory)
    server = PolicyServer(cert, key)
    server.policies["mta-sts.good.test"] = Policy(ENFORCE)
    server.policies["mta-sts.sts.test"] = Policy(
        "version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n"
    )
    server.policies["mta-sts.redirect.test"] = Policy(
        "", status=301, location="https://elsewhere.test/.well-known/mta-sts.txt"
    )
    server.start()
    anchors = directory / "anchors.zone"
    good_ds = knot.ds_records("good.test")
    bogus_ds = [line.rsplit(" ", 1)[0] + " " + "00" * 32 for line in knot.ds_records("bogus.test")]
    anchors.write_text("\n".join([*good_ds, *bogus_ds]) + "\n")
    return DnsLab(knot, server, ca_file, anchors)


def cli_with_organisation(
    lab: DnsLab, home: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[CliRunner, typer.Typer, str]:
    """The CLI pointed at the lab's resolvers and a fresh home, with `clearance init` run and
    one organisation (Budmouth) created: the runner, the app and the organisation's id."""
    from api.cli.main import app

    for key, value in lab.settings().items():
        monkeypatch.setenv(f"CLEARANCE_{key.upper()}", str(value))
    monkeypatch.setenv("CLEARANCE_HOME", str(home))
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(
        app, ["org", "create", "Budmouth", "--sector", "local-government", "--json"]
    )
    assert created.exit_code == 0, created.output
    return runner, app, json.loads(created.stdout)["id"]
