"""Message labels: real header samples for each format, and the mapping config."""

from __future__ import annotations

from pathlib import Path

import pytest

from directory.configfile import ConfigError
from directory.errors import DirectoryError
from directory.labels import LabelRules, load_label_rules, read_label, subject_marking
from directory.policy import load_policy
from directory.settings import REPO_CONFIG

CONFIG = REPO_CONFIG


@pytest.fixture(scope="module")
def rules() -> LabelRules:
    policy = load_policy(CONFIG / "policies" / "uk-gsc.toml", CONFIG / "schemes")
    return load_label_rules(CONFIG / "labels.toml", policy.scheme)


def level_of(headers: str, rules: LabelRules) -> str | None:
    label = read_label(headers, rules)
    return label.level.name if label.level else None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("OFFICIAL-SENSITIVE: Referral for child A", "OFFICIAL-SENSITIVE"),
        ("[OFFICIAL SENSITIVE] Case conference minutes", "OFFICIAL-SENSITIVE"),
        ("RE: FW: OFFICIAL-SENSITIVE PERSONAL: MASH referral", "OFFICIAL-SENSITIVE"),
        ("Official: Sensitive: strategy meeting", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL Budget figures", "OFFICIAL"),
        ("OFFICIAL - team rota", "OFFICIAL"),
        ("Meeting notes [SEC=OFFICIAL:Sensitive]", "OFFICIAL-SENSITIVE"),
        ("Re: Update [SEC=OFFICIAL]", "OFFICIAL"),
        ("RESTRICTED: legacy marking", "OFFICIAL-SENSITIVE"),
        ("SECRET: do not send", "SECRET"),
        ("Official visit next week", None),
        ("Lunch on Friday?", None),
        ("A sensitive matter", None),
        ("", None),
    ],
)
def test_subject_markings(subject: str, expected: str | None, rules: LabelRules) -> None:
    found = subject_marking(subject, rules.scheme)
    assert (found.level.name if found and found.level else None) == expected


def test_rfc2047_encoded_subject(rules: LabelRules) -> None:
    headers = "Subject: =?UTF-8?Q?OFFICIAL-SENSITIVE=3A_R=C3=A9f=C3=A9rence?=\n"
    assert level_of(headers, rules) == "OFFICIAL-SENSITIVE"


def test_australian_protective_marking_header(rules: LabelRules) -> None:
    # The PSPF email protective marking standard (2018) form, folded as mail clients send it.
    headers = (
        "From: Jane Citizen <jane.citizen@agency.gov.au>\n"
        "Subject: Briefing [SEC=OFFICIAL:Sensitive]\n"
        "X-Protective-Marking: VER=2018.4, NS=gov.au,\n"
        " SEC=OFFICIAL:Sensitive, ACCESS=Personal-Privacy,\n"
        " ORIGIN=jane.citizen@agency.gov.au\n"
    )
    label = read_label(headers, rules)
    assert label.level is not None and label.level.name == "OFFICIAL-SENSITIVE"
    sources = [m.source for m in label.markings]
    assert sources == ["x-protective-marking", "subject"]
    assert label.markings[0].text == "OFFICIAL:Sensitive"


def test_australian_protected_is_unrecognised_under_the_uk_scheme(rules: LabelRules) -> None:
    headers = "X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=PROTECTED, ORIGIN=a@b.gov.au\n"
    label = read_label(headers, rules)
    assert label.level is None
    assert [m.text for m in label.unrecognised] == ["PROTECTED"]


def test_au_pspf_scheme_reads_the_same_header() -> None:
    policy = load_policy(CONFIG / "policies" / "au-pspf.toml", CONFIG / "schemes")
    scheme = policy.scheme
    au = LabelRules(scheme, scheme.levels[1], True, {}, {}, {})
    headers = "X-Protective-Marking: VER=2018.4, NS=gov.au, SEC=PROTECTED, CAVEAT=SH:CABINET\n"
    label = read_label(headers, au)
    assert label.level is not None and label.level.name == "PROTECTED"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL", "OFFICIAL"),
        ("OFFICIAL-SENSITIVE; PERSONAL", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL SENSITIVE COMMERCIAL", "OFFICIAL-SENSITIVE"),
        ("PROTECT", "OFFICIAL"),
    ],
)
def test_uk_protective_marking_header(value: str, expected: str, rules: LabelRules) -> None:
    assert level_of(f"X-Protective-Marking: {value}\n", rules) == expected


def test_rfc7444_sio_label_with_ess_label(rules: LabelRules) -> None:
    # RFC 7444 section 3's example label: ESSSecurityLabel { policy 1.1, classification 3 }.
    headers = (
        'SIO-Label: marking="CONFIDENTIAL"; fgcolor=black; bgcolor=red;\n'
        ' type=":ess"; label="MQYGASkCAQM="\n'
    )
    label = read_label(headers, rules)
    assert label.level is not None and label.level.name == "SECRET"
    assert label.markings[0].source == "sio-label"


def test_rfc7444_sio_label_marking_only(rules: LabelRules) -> None:
    assert level_of('SIO-Label: marking="OFFICIAL-SENSITIVE"\n', rules) == "OFFICIAL-SENSITIVE"


def test_sio_label_with_an_unknown_policy_falls_back_to_the_marking(rules: LabelRules) -> None:
    # ESSSecurityLabel { policy 1.2.3, classification 2 }: no mapping for 1.2.3.
    headers = 'SIO-Label: marking="OFFICIAL"; type=":ess"; label="MQgGAioDAgEC"\n'
    assert level_of(headers, rules) == "OFFICIAL"


def test_sio_label_that_cannot_be_read_is_unrecognised(rules: LabelRules) -> None:
    label = read_label('SIO-Label: type=":ess"; label="not base64!"\n', rules)
    assert label.level is None and len(label.unrecognised) == 1


def test_purview_msip_labels_by_guid(rules: LabelRules) -> None:
    guid = "b7c0e2a4-5d1f-4b8e-8c62-7f0e9a3d4c02"
    headers = (
        f"msip_labels: MSIP_Label_{guid}_Enabled=true;\n"
        f" MSIP_Label_{guid}_SetDate=2026-10-30T09:12:44Z;\n"
        f" MSIP_Label_{guid}_Method=Privileged; MSIP_Label_{guid}_Name=Sensitive-Team;\n"
        f" MSIP_Label_{guid}_SiteId=72f988bf-86f1-41af-91ab-2d7cd011db47;\n"
        f" MSIP_Label_{guid}_ActionId=7e4b3a55-1c63-4a6c-9d7d-000000000000;\n"
        f" MSIP_Label_{guid}_ContentBits=0\n"
    )
    label = read_label(headers, rules)
    assert label.level is not None and label.level.name == "OFFICIAL-SENSITIVE"
    assert label.markings[0].text == "Sensitive-Team"


def test_purview_label_by_name_and_disabled_labels(rules: LabelRules) -> None:
    on = "11111111-2222-3333-4444-555555555555"
    off = "99999999-2222-3333-4444-555555555555"
    headers = (
        f"msip_labels: MSIP_Label_{on}_Enabled=True;MSIP_Label_{on}_Name=General;"
        f"MSIP_Label_{off}_Enabled=False;MSIP_Label_{off}_Name=OFFICIAL-SENSITIVE\n"
    )
    assert level_of(headers, rules) == "OFFICIAL"


def test_purview_label_unknown_name_is_unrecognised(rules: LabelRules) -> None:
    guid = "11111111-2222-3333-4444-555555555555"
    headers = f"msip_labels: MSIP_Label_{guid}_Enabled=true; MSIP_Label_{guid}_Name=Top Drawer\n"
    label = read_label(headers, rules)
    assert label.level is None and [m.text for m in label.unrecognised] == ["Top Drawer"]


def test_the_highest_label_wins(rules: LabelRules) -> None:
    headers = "Subject: OFFICIAL: minutes\nX-Protective-Marking: OFFICIAL-SENSITIVE\n"
    assert level_of(headers, rules) == "OFFICIAL-SENSITIVE"


def test_unlabelled_and_encrypted(rules: LabelRules) -> None:
    label = read_label(
        "Subject: hello\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n"
        ' name="smime.p7m"\r\n',
        rules,
    )
    assert label.level is None and label.markings == () and label.encrypted


def test_oversized_headers_are_refused(rules: LabelRules) -> None:
    with pytest.raises(DirectoryError):
        read_label("X-Pad: " + "a" * 300_000 + "\n", rules)


def test_label_config_refuses_unknown_classifications(tmp_path: Path, rules: LabelRules) -> None:
    path = tmp_path / "labels.toml"
    path.write_text('unlabelled = "OFFICIAL"\n[purview.names]\n"General" = "HUSH"\n')
    with pytest.raises(ConfigError) as err:
        load_label_rules(path, rules.scheme)
    assert err.value.key == "purview.names.General"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("block_unrecognised = true\n", "unlabelled", "is required"),
        ('unlabelled = "HUSH"\n', "unlabelled", "'HUSH' is not a classification of uk-gsc"),
        ('unlabelled = "OFFICIAL"\nblock_unrecognised = "yes"\n', "block_unrecognised",
         "must be true or false"),
        ('unlabelled = "OFFICIAL"\npurview = 3\n', "purview", "must be a table"),
        ('unlabelled = "OFFICIAL"\n[purview]\nlabels = {}\n', "purview.labels",
         "is not a known setting"),
        ('unlabelled = "OFFICIAL"\n[[sio.policies]]\noid = "1.2"\n',
         "sio.policies[0].classifications", "is required"),
        ('unlabelled = "OFFICIAL"\n[[sio.policies]]\noid = "1.2"\n'
         'classifications = {x = "OFFICIAL"}\n',
         "sio.policies[0].classifications", "'x' is not a whole number"),
        ('unlabelled = "OFFICIAL"\n[sio]\npolicies = 1\n', "sio.policies", "must be an array"),
    ],
)  # fmt: skip
def test_label_config_says_what_is_wrong(
    tmp_path: Path, rules: LabelRules, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_label_rules(path, rules.scheme)
    assert (err.value.key, err.value.problem) == (key, problem)
