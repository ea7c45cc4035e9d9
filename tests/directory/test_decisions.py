"""Per-recipient decisions for a labelled message, over the demo directory."""

from __future__ import annotations

from datetime import timedelta

import pytest

from directory import demo
from directory.decisions import decide
from directory.labels import LabelRules, load_label_rules, read_label
from directory.service import Directory
from directory.store import tables as t
from tests.conftest import ADMIN


@pytest.fixture
def demo_directory(directory: Directory) -> Directory:
    demo.seed(directory)
    return directory


@pytest.fixture
def rules(directory: Directory) -> LabelRules:
    return load_label_rules(directory.settings.config_dir / "labels.toml", directory.policy.scheme)


def decisions(directory: Directory, rules: LabelRules, headers: str, *rcpts: str) -> dict:
    answer = decide(directory.lookup, read_label(headers, rules), rules, list(rcpts))
    return answer


def by_recipient(answer: dict) -> dict[str, tuple[str, list[str]]]:
    return {
        d["recipient"]: (d["decision"], [r["code"] for r in d["reasons"]])
        for d in answer["decisions"]
    }


def add_certificate(directory: Directory, address: str) -> None:
    """A live certificate row for a mailbox entry (the DER is opaque to decisions)."""
    org = directory.store.domain_by_name(address.split("@")[1])
    assert org is not None
    recipient = directory.registration.add_recipient(
        ADMIN, org.organisation_id, address=address, role="person", mailbox_verified=True
    )
    now = directory.clock()
    with directory.store.write("test", now) as w:
        w.insert(
            t.certificates,
            {
                "serial": "0a1b2c",
                "recipient_id": recipient.id,
                "email": address,
                "not_before": now - timedelta(days=1),
                "not_after": now + timedelta(days=300),
                "der": b"0\x03\x02\x01\x00",
                "revoked_at": None,
                "revocation_reason": None,
                "created_at": now,
            },
            "certificate.issue",
        )


def test_an_official_sensitive_message(demo_directory: Directory, rules: LabelRules) -> None:
    answer = decisions(
        demo_directory,
        rules,
        "Subject: OFFICIAL-SENSITIVE: referral\n",
        "j.smith@wessex.gov.uk",
        "someone@dcs.gov.uk",
        "nobody@example.org",
        "alerts@casterbridge.gov.uk",
    )
    assert answer["classification"] == "OFFICIAL-SENSITIVE" and answer["labelled"]
    assert by_recipient(answer) == {
        "j.smith@wessex.gov.uk": ("allow", []),
        "someone@dcs.gov.uk": ("block", ["posture.transport"]),
        "nobody@example.org": ("block", ["recipient.not-verified"]),
        "alerts@casterbridge.gov.uk": ("block", ["recipient.role-not-allowed"]),
    }


def test_unlabelled_mail_is_official(demo_directory: Directory, rules: LabelRules) -> None:
    answer = decisions(demo_directory, rules, "Subject: hello\n", "alerts@casterbridge.gov.uk")
    assert answer["classification"] == "OFFICIAL" and not answer["labelled"]
    assert by_recipient(answer)["alerts@casterbridge.gov.uk"] == ("allow", [])


def test_secret_is_never_by_email(demo_directory: Directory, rules: LabelRules) -> None:
    answer = decisions(demo_directory, rules, "Subject: SECRET: plans\n", "j.smith@wessex.gov.uk")
    assert by_recipient(answer)["j.smith@wessex.gov.uk"] == (
        "block",
        ["policy.secret-not-by-email"],
    )


def test_a_certificate_makes_weak_transport_good_by_encryption(
    demo_directory: Directory, rules: LabelRules
) -> None:
    add_certificate(demo_directory, "k.lee@dcs.gov.uk")
    answer = decisions(
        demo_directory, rules, "X-Protective-Marking: OFFICIAL-SENSITIVE\n", "k.lee@dcs.gov.uk"
    )
    [decision] = answer["decisions"]
    assert decision["decision"] == "encrypt"
    assert [r["code"] for r in decision["reasons"]] == [
        "decision.encrypt-for-transport",
        "posture.transport",
    ]
    assert decision["certificates"][0]["serial"] == "0a1b2c"
    assert decision["certificates"][0]["pem"].startswith("-----BEGIN CERTIFICATE-----")


def test_an_unrecognised_label_blocks_everyone(
    demo_directory: Directory, rules: LabelRules
) -> None:
    headers = "X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=PROTECTED\n"
    answer = decisions(demo_directory, rules, headers, "j.smith@wessex.gov.uk")
    assert by_recipient(answer) == {"j.smith@wessex.gov.uk": ("block", ["label.unrecognised"])}
    assert answer["markings"] == [
        {"source": "x-protective-marking", "text": "PROTECTED", "classification": None}
    ]
