"""Unit tests for the record parsers, challenge tokens, nameserver settings and findings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from directory.errors import DirectoryError
from directory.model import DmarcPolicy
from directory.verification import records as rec
from directory.verification.challenge import RECORD, new_token, record_text
from directory.verification.findings import CODES, Severity, finding, from_dict
from directory.verification.publicsuffix import is_public_suffix, organisational_domain
from directory.verification.resolver import parse_nameservers


def test_spf_parsing() -> None:
    spf = rec.parse_spf("v=spf1 a mx include:_spf.example.org ip4:192.0.2.0/24 redirect=x.org")
    assert (spf.all_qualifier, spf.lookups, spf.includes, spf.redirect) == (
        None,
        4,
        ["_spf.example.org"],
        "x.org",
    )
    assert rec.parse_spf("v=spf1 -all").all_qualifier == "-"
    assert rec.parse_spf("v=spf1 ~ALL").all_qualifier == "~"
    for bad in ("v=spf1 bogus:x", "v=spf1 include:", "spf1 -all", "v=spf1 -all:x"):
        with pytest.raises(rec.RecordError):
            rec.parse_spf(bad)
    assert rec.is_spf("v=spf1") and not rec.is_spf("v=spf10 -all")


def test_dmarc_parsing_with_dmarcbis_tags() -> None:
    d = rec.parse_dmarc("v=DMARC1; p=reject; sp=none; np=quarantine; t=y; psd=n; rua=mailto:a@b")
    assert (d.p, d.sp, d.np, d.testing, d.psd, d.rua) == (
        DmarcPolicy.REJECT,
        DmarcPolicy.NONE,
        DmarcPolicy.QUARANTINE,
        True,
        "n",
        ["mailto:a@b"],
    )
    assert rec.effective_dmarc(d, subdomain=False) == (DmarcPolicy.QUARANTINE, True)
    assert rec.effective_dmarc(d, subdomain=True) == (DmarcPolicy.NONE, True)
    full = rec.parse_dmarc("v=DMARC1;p=quarantine;pct=100")
    assert rec.effective_dmarc(full, subdomain=False) == (DmarcPolicy.QUARANTINE, False)
    for bad in (
        "v=DMARC1; p=rejectt",
        "v=DMARC1; p=reject; p=none",
        "p=reject; v=DMARC1",
        "v=DMARC1; pct=101",
        "v=DMARC1; t=maybe",
        "v=DMARC1; p",
        "v=DMARC1; rua=a@b",
    ):
        with pytest.raises(rec.RecordError):
            rec.parse_dmarc(bad)
    assert rec.parse_dmarc("v=DMARC1; p=none; zz=1").unknown == ["zz"]


def test_mta_sts_record_and_policy() -> None:
    assert rec.parse_mta_sts_record("v=STSv1; id=20261101T00;") == "20261101T00"
    with pytest.raises(rec.RecordError):
        rec.parse_mta_sts_record("v=STSv1; id=bad-id!")
    policy = rec.parse_sts_policy(
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmx: *.example.net\r\n"
        "max_age: 604800\r\n"
    )
    assert policy == rec.StsPolicy("enforce", ["mail.example.org", "*.example.net"], 604800)
    assert rec.mx_matches("MX1.example.net.", "*.example.net")
    assert not rec.mx_matches("a.b.example.net", "*.example.net")
    assert not rec.mx_matches("example.net", "*.example.net")
    for bad in (
        "version: STSv1\nmode: enforce\nmax_age: 10\n",  # no mx
        "version: STSv2\nmode: none\nmax_age: 10\n",
        "version: STSv1\nmode: strict\nmx: a.b\nmax_age: 10\n",
        "version: STSv1\nmode: none\nmax_age: 99999999999\n",
        "version: STSv1\nmode: none\nmode: none\nmax_age: 1\n",
    ):
        with pytest.raises(rec.RecordError):
            rec.parse_sts_policy(bad)


def test_tlsrpt() -> None:
    assert rec.parse_tlsrpt("v=TLSRPTv1; rua=mailto:a@b.c,https://r.example/x") == [
        "mailto:a@b.c",
        "https://r.example/x",
    ]
    for bad in (
        "v=TLSRPTv1;",
        "v=TLSRPTv1; rua=http://plain.example",
        "v=TLSRPTv2; rua=mailto:a@b",
    ):
        with pytest.raises(rec.RecordError):
            rec.parse_tlsrpt(bad)


def test_challenge_tokens_have_at_least_128_bits() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(base64.b32decode(token + "=" * (-len(token) % 8))) * 8 >= 128
    text = record_text(next(iter(tokens)), datetime(2026, 11, 8, 9, 0, 0, 123, tzinfo=UTC))
    match = RECORD.match(text)
    assert match is not None and match.group(2) == "2026-11-08T09:00:00Z"


def test_nameserver_settings() -> None:
    assert parse_nameservers("127.0.0.1, 127.0.0.1:5353,[::1]:53,::1") == [
        ("127.0.0.1", 53),
        ("127.0.0.1", 5353),
        ("::1", 53),
        ("::1", 53),
    ]
    assert parse_nameservers("") == []
    for bad in ("ns.example.org", "127.0.0.1:0", "127.0.0.1:x", "[::1]:99999"):
        with pytest.raises(DirectoryError):
            parse_nameservers(bad)


def test_public_suffixes() -> None:
    assert is_public_suffix("gov.uk") and is_public_suffix("co.uk") and is_public_suffix("GOV.UK.")
    assert not is_public_suffix("wessex.gov.uk")
    assert organisational_domain("mail.wessex.gov.uk") == "wessex.gov.uk"
    assert organisational_domain("gov.uk") is None


def test_findings_are_stable_data() -> None:
    f = finding("dane.bogus", "_25._tcp.mx.example.org")
    assert f.severity is Severity.ERROR and f.message.endswith("_25._tcp.mx.example.org")
    assert from_dict(f.as_dict()) == f
    assert all(code.count(".") == 1 for code in CODES)
