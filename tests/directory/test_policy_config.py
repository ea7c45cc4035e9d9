"""Policy files and settings fail fast, naming the file, the key and the problem."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from directory.configfile import ConfigError
from directory.errors import ErrorKind
from directory.model import DmarcPolicy, Sector, Transport, TrustLevel
from directory.policy import Policy, load_policy
from directory.settings import REPO_CONFIG, load_settings

SCHEMES = REPO_CONFIG / "schemes"
UK_POLICY = REPO_CONFIG / "policies" / "uk-gsc.toml"

HEAD = """
name = "test"
version = "1"
scheme = "uk-gsc"
accreditation_schemes = ["iso-27001"]
"""
OFFICIAL = """
[classifications."OFFICIAL"]
min_trust = "organisation-verified"
"""
SENSITIVE = """
[classifications."OFFICIAL-SENSITIVE"]
min_trust = "accredited"
transport = "mta-sts-or-dane"
dmarc = "quarantine"
"""
SECRET = """
[classifications."SECRET"]
permitted = false
"""
TOP = """
[classifications."TOP SECRET"]
permitted = false
"""
GOOD = HEAD + OFFICIAL + SENSITIVE + SECRET + TOP


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(tmp_path: Path, text: str) -> ConfigError:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path, SCHEMES)
    err = caught.value
    assert err.kind is ErrorKind.CONFIG
    assert err.path == str(path)
    assert err.detail == f"{path}: {err.key}: {err.problem}"
    return err


# --- the shipped policies -------------------------------------------------------------------
def test_uk_policy_loads() -> None:
    policy = load_policy(UK_POLICY, SCHEMES)
    assert policy.name == "uk-gsc"
    assert policy.digest == "sha256:" + hashlib.sha256(UK_POLICY.read_bytes()).hexdigest()
    assert [r.level.name for r in policy.requirements] == [
        "OFFICIAL",
        "OFFICIAL-SENSITIVE",
        "SECRET",
        "TOP SECRET",
    ]
    official, sensitive, secret, top = policy.requirements
    assert official.permitted and official.min_trust is TrustLevel.ORGANISATION_VERIFIED
    assert official.transport is Transport.NONE and official.dmarc is DmarcPolicy.NONE
    assert sensitive.min_trust is TrustLevel.ACCREDITED
    assert sensitive.transport is Transport.MTA_STS_OR_DANE
    assert sensitive.dmarc is DmarcPolicy.QUARANTINE
    assert sensitive.roles == frozenset({"person", "shared", "domain"})
    assert not secret.permitted and not top.permitted
    assert "psn-compliance" in policy.accreditation_schemes
    assert policy.domain_verification_max_age_days == 35
    assert policy.posture_max_age_days == 8
    assert policy.requirement(policy.scheme.resolve("RESTRICTED")) is sensitive


def test_au_policy_loads_over_its_own_scheme() -> None:
    policy = load_policy(REPO_CONFIG / "policies" / "au-pspf.toml", SCHEMES)
    assert policy.scheme.name == "au-pspf"
    protected = policy.requirement(policy.scheme.resolve("PROTECTED"))
    assert protected.sectors == frozenset(
        {Sector.CENTRAL_GOVERNMENT, Sector.POLICE, Sector.JUSTICE, Sector.HEALTH}
    )
    assert protected.certificate and protected.mailbox_verified
    assert policy.requirements[0].min_trust is TrustLevel.NONE


def test_a_good_test_policy_loads_with_defaults(tmp_path: Path) -> None:
    policy: Policy = load_policy(_write(tmp_path, GOOD), SCHEMES)
    assert policy.answer_valid_seconds == 3600
    official = policy.requirements[0]
    assert official.sectors == frozenset() and official.roles == frozenset()
    assert not official.mailbox_verified and not official.certificate


def test_the_digest_follows_the_bytes(tmp_path: Path) -> None:
    first = load_policy(_write(tmp_path, GOOD), SCHEMES).digest
    second = load_policy(_write(tmp_path, GOOD + "\n# a comment\n"), SCHEMES).digest
    assert first != second


# --- bad policy files -----------------------------------------------------------------------
def test_missing_classification(tmp_path: Path) -> None:
    err = _refused(tmp_path, HEAD + OFFICIAL + SENSITIVE + TOP)
    assert err.key == "classifications.SECRET"
    assert err.problem == "is missing"


def test_no_classifications_table(tmp_path: Path) -> None:
    err = _refused(tmp_path, HEAD)
    assert err.key == "classifications"


def test_unknown_scheme(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('scheme = "uk-gsc"', 'scheme = "nato"'))
    assert err.key == "scheme"
    assert "'nato'" in err.problem and "does not exist" in err.problem


@pytest.mark.parametrize("value", ['"high"', '"Accredited"', "3", '""'])
def test_bad_min_trust(tmp_path: Path, value: str) -> None:
    text = GOOD.replace('min_trust = "organisation-verified"', f"min_trust = {value}")
    err = _refused(tmp_path, text)
    assert err.key == "classifications.OFFICIAL.min_trust"


def test_bad_min_trust_names_the_choices(tmp_path: Path) -> None:
    err = _refused(
        tmp_path, GOOD.replace('min_trust = "organisation-verified"', 'min_trust = "high"')
    )
    assert "'high'" in err.problem and "organisation-verified" in err.problem


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("transport", 'transport = "carrier-pigeon"'),
        ("dmarc", 'dmarc = "strict"'),
        ("permitted", 'permitted = "yes"'),
        ("mailbox_verified", "mailbox_verified = 1"),
        ("sectors", 'sectors = ["banking"]'),
        ("roles", 'roles = ["robot"]'),
        ("colour", 'colour = "red"'),
    ],
)
def test_bad_requirement_values(tmp_path: Path, key: str, line: str) -> None:
    err = _refused(tmp_path, GOOD.replace('min_trust = "organisation-verified"', line))
    assert err.key == f"classifications.OFFICIAL.{key}"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = _refused(tmp_path, 'owner = "me"\n' + GOOD)
    assert err.key == "owner"
    assert err.problem == "is not a known setting"


def test_classification_that_is_not_a_level(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD + '\n[classifications."SUPER SECRET"]\npermitted = false\n')
    assert err.key == "classifications.SUPER SECRET"
    assert "uk-gsc" in err.problem


def test_classification_named_by_alias(tmp_path: Path) -> None:
    """An alias is for senders; the policy names levels exactly."""
    err = _refused(tmp_path, GOOD + '\n[classifications."RESTRICTED"]\nmin_trust = "accredited"\n')
    assert err.key == "classifications.RESTRICTED"


def test_higher_classification_with_lower_min_trust(tmp_path: Path) -> None:
    err = _refused(
        tmp_path, GOOD.replace('min_trust = "accredited"', 'min_trust = "domain-verified"')
    )
    assert err.key == "classifications.OFFICIAL-SENSITIVE.min_trust"
    assert "below that of OFFICIAL" in err.problem


def test_equal_min_trust_is_fine(tmp_path: Path) -> None:
    text = GOOD.replace('min_trust = "accredited"', 'min_trust = "organisation-verified"')
    load_policy(_write(tmp_path, text), SCHEMES)


def test_permitted_level_above_a_refused_one(tmp_path: Path) -> None:
    text = HEAD + OFFICIAL + SENSITIVE + SECRET + TOP.replace("false", "true")
    err = _refused(tmp_path, text)
    assert err.key == "classifications.TOP SECRET"
    assert "SECRET is not" in err.problem


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("answer_valid_seconds = 0", "answer_valid_seconds"),
        ("answer_valid_seconds = 9999999", "answer_valid_seconds"),
        ('answer_valid_seconds = "1h"', "answer_valid_seconds"),
        ("domain_verification_max_age_days = 0", "domain_verification_max_age_days"),
        ("posture_max_age_days = true", "posture_max_age_days"),
        ('accreditation_schemes = "iso-27001"', "accreditation_schemes"),
        ("version = 2", "version"),
    ],
)
def test_bad_top_level_values(tmp_path: Path, line: str, key: str) -> None:
    text = GOOD.replace('accreditation_schemes = ["iso-27001"]', line)
    if key == "version":
        text = text.replace('version = "1"\n', "")
    err = _refused(tmp_path, text)
    assert err.key == key


def test_invalid_toml(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD + '\n[classifications."OFFICIAL"\n')
    assert err.key == "(file)"
    assert "not valid TOML" in err.problem


def test_duplicate_table_is_invalid_toml(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD + OFFICIAL)
    assert err.key == "(file)"


def test_a_bad_scheme_file_behind_a_policy_is_named(tmp_path: Path) -> None:
    schemes = tmp_path / "schemes"
    schemes.mkdir()
    (schemes / "uk-gsc.toml").write_text('name = "uk-gsc"\n', encoding="utf-8")
    path = _write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as caught:
        load_policy(path, schemes)
    assert caught.value.path == str(schemes / "uk-gsc.toml")
    assert caught.value.key == "levels"


# --- settings -------------------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "CLEARANCE_BATCH_LIMIT",
        "CLEARANCE_CACHE_REFRESH_SECONDS",
        "CLEARANCE_DATABASE_URL",
        "CLEARANCE_POLICY",
        "CLEARANCE_CONFIG_DIR",
        "CLEARANCE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_from_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("CLEARANCE_BATCH_LIMIT", "7")
    settings = load_settings(home=tmp_path)
    assert settings.batch_limit == 7
    assert settings.policy_path == REPO_CONFIG / "policies" / "uk-gsc.toml"


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("CLEARANCE_BATCH_LIMIT", "0", "batch_limit"),
        ("CLEARANCE_BATCH_LIMIT", "10001", "batch_limit"),
        ("CLEARANCE_BATCH_LIMIT", "many", "batch_limit"),
        ("CLEARANCE_CACHE_REFRESH_SECONDS", "-1", "cache_refresh_seconds"),
        ("CLEARANCE_CACHE_REFRESH_SECONDS", "61", "cache_refresh_seconds"),
        ("CLEARANCE_DATABASE_URL", "mysql://db/clearance", "database_url"),
        ("CLEARANCE_POLICY", "../../etc/passwd", "policy"),
    ],
)
def test_bad_environment_settings_are_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, key: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path)
    err = caught.value
    assert err.kind is ErrorKind.CONFIG
    assert err.key == key
    assert f"CLEARANCE_{key.upper()}" in err.problem
    assert err.path.endswith("settings.toml")


def test_unknown_key_in_settings_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('home = "var"\ncolour = "red"\n', encoding="utf-8")
    clean_env.setenv("CLEARANCE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.path == str(tmp_path / "settings.toml")
    assert caught.value.key == "colour"


def test_bad_value_in_settings_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("batch_limit = -5\n", encoding="utf-8")
    clean_env.setenv("CLEARANCE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path)
    assert caught.value.key == "batch_limit"


def test_missing_settings_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("CLEARANCE_CONFIG_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.key == "(file)"
