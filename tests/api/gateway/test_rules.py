"""Gateway rules from config/gateway.toml, and the SMTP actions they lead to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.gateway import smtp
from api.gateway.rules import GatewayRules, Mode, load_gateway_rules
from directory.classification import Scheme
from directory.configfile import ConfigError
from directory.errors import DirectoryError, ErrorKind
from directory.policy import load_policy
from directory.settings import REPO_CONFIG


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return load_policy(REPO_CONFIG / "policies" / "uk-gsc.toml", REPO_CONFIG / "schemes").scheme


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_the_shipped_file_loads(scheme: Scheme) -> None:
    rules = load_gateway_rules(REPO_CONFIG / "gateway.toml", scheme)
    assert rules.mode is Mode.TAG and rules.minimum.name == "OFFICIAL-SENSITIVE"
    assert rules.lookup_timeout == 2.0
    assert (rules.answer_cache_bytes, rules.tls_cache_bytes) == (256 << 20, 16 << 20)


def test_sender_domain_rules_first_match_wins(tmp_path: Path, scheme: Scheme) -> None:
    path = write(
        tmp_path,
        'mode = "tag"\n'
        '[[rules]]\nsender_domains = ["wessex.gov.uk"]\nmode = "enforce-known"\n'
        '[[rules]]\nsender_domains = ["gov.uk"]\nmode = "enforce-minimum"\nminimum = "OFFICIAL"\n',
    )
    rules = load_gateway_rules(path, scheme)
    assert rules.for_sender("clerk@wessex.gov.uk")[0] is Mode.ENFORCE_KNOWN
    assert rules.for_sender("clerk@social.wessex.gov.uk")[0] is Mode.ENFORCE_KNOWN
    mode, minimum = rules.for_sender("a@dcs.GOV.UK")
    assert (mode, minimum.name) == (Mode.ENFORCE_MINIMUM, "OFFICIAL")
    assert rules.for_sender("someone@notwessex.gov.uk.example")[0] is Mode.TAG
    assert rules.for_sender("x@evilgov.uk")[0] is Mode.TAG
    assert rules.for_sender("")[0] is Mode.TAG  # bounces


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('mode = "block-everything"\n', "mode"),
        ('minimum = "HUSH"\n', "minimum"),
        ("lookup_timeout_seconds = 0\n", "lookup_timeout_seconds"),
        ('header = "X Bad: header"\n', "header"),
        ('tls_secure = "secure\\nmatch=x"\n', "tls_secure"),
        ("surprise = 1\n", "surprise"),
        ("answer_cache_mib = 0\n", "answer_cache_mib"),
        ("tls_cache_mib = -1\n", "tls_cache_mib"),
        ("[[rules]]\nsender_domains = []\n", "rules[0].sender_domains"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(
    tmp_path: Path, scheme: Scheme, text: str, key: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_gateway_rules(write(tmp_path, text), scheme)
    assert err.value.key == key


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            'mode = "block-everything"\n',
            "mode",
            "must be one of tag, enforce-known, enforce-minimum, not 'block-everything'",
        ),
        ('minimum = "HUSH"\n', "minimum", "'HUSH' is not a classification of uk-gsc"),
        ("answer_cache_mib = 0\n", "answer_cache_mib", "must be between 1 and 1000000"),
        ("answer_cache_entries = true\n", "answer_cache_entries", "must be a whole number"),
        ("lookup_timeout_seconds = 0\n", "lookup_timeout_seconds", "must be between 0.05 and 60.0"),
        ('max_stale_seconds = "5"\n', "max_stale_seconds", "must be a number of seconds"),
        ("surprise = 1\n", "surprise", "is not a known setting"),
        ('header = ""\n', "header", "must be a non-empty string"),
        ("[[rules]]\nmode = \"tag\"\n", "rules[0].sender_domains", "is required"),
        ("[[rules]]\nsender_domains = [\"a.example\"]\nwhat = 1\n", "rules[0].what",
         "is not a known setting"),
        ("[[rules]]\nsender_domains = [\"a.example\"]\nminimum = \"HUSH\"\n", "rules[0].minimum",
         "'HUSH' is not a classification of uk-gsc"),
        ("rules = 3\n", "rules", "must be an array"),
    ],
)  # fmt: skip
def test_bad_settings_say_what_is_wrong(
    tmp_path: Path, scheme: Scheme, text: str, key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_gateway_rules(write(tmp_path, text), scheme)
    assert (err.value.key, err.value.problem) == (key, problem)
    assert str(err.value).endswith(f"gateway.toml: {key}: {problem}")


def answer(best: str | None, reasons: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {
        "max_classification": best,
        "trust_level": "accredited" if best else "none",
        "policy": {"name": "uk-gsc"},
        "reasons": [{"code": c, "classification": lv, "message": ""} for lv, c in reasons or []],
    }


def test_actions_by_mode(scheme: Scheme) -> None:
    rules: GatewayRules = load_gateway_rules(REPO_CONFIG / "gateway.toml", scheme)
    official, sensitive = scheme.level("OFFICIAL"), scheme.level("OFFICIAL-SENSITIVE")
    verified = answer("OFFICIAL", [("OFFICIAL-SENSITIVE", "posture.dmarc")])
    unknown = answer(None, [("OFFICIAL", "recipient.not-verified")])
    tag = "PREPEND X-Clearance: max=OFFICIAL; trust=accredited; policy=uk-gsc"
    assert smtp.policy_action(verified, Mode.TAG, official, rules) == tag
    assert smtp.policy_action(unknown, Mode.TAG, official, rules).startswith("PREPEND")
    assert smtp.policy_action(verified, Mode.ENFORCE_KNOWN, official, rules) == tag
    assert smtp.policy_action(unknown, Mode.ENFORCE_KNOWN, official, rules) == (
        "550 5.7.1 Clearance: recipient is not verified (recipient.not-verified)"
    )
    assert smtp.policy_action(verified, Mode.ENFORCE_MINIMUM, official, rules) == tag
    assert smtp.policy_action(verified, Mode.ENFORCE_MINIMUM, sensitive, rules).endswith(
        "(posture.dmarc)"
    )


@pytest.mark.parametrize("mode", list(Mode))
def test_errors_never_accept(scheme: Scheme, mode: Mode) -> None:
    rules = load_gateway_rules(REPO_CONFIG / "gateway.toml", scheme)
    minimum = scheme.level("OFFICIAL")
    for exc in (DirectoryError(ErrorKind.UNAVAILABLE, "down"), RuntimeError("boom")):
        assert smtp.policy_action(exc, mode, minimum, rules) == smtp.UNAVAILABLE
        assert smtp.map_error(exc).startswith("TEMP ")
    bad = DirectoryError(ErrorKind.MALFORMED, "x is not a mailbox\r\nInjected: yes")
    action = smtp.policy_action(bad, mode, minimum, rules)
    assert "\n" not in action and "\r" not in action
    assert action == "DUNNO" if mode is Mode.TAG else action.startswith("550 5.1.3 ")
