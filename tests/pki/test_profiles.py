from __future__ import annotations

from pathlib import Path

import pytest

from pki.errors import PkiError
from pki.profiles import DEFAULT_POLICY_ARC, PkiProfile, load_profile

REPO = Path(__file__).resolve().parents[2]


def test_shipped_profile_is_the_default() -> None:
    profile = load_profile(REPO / "config" / "profiles" / "default.toml")
    assert profile == PkiProfile()
    assert profile.trust_level_oids() == {
        "domain-verified": f"{DEFAULT_POLICY_ARC}.1",
        "organisation-verified": f"{DEFAULT_POLICY_ARC}.2",
        "accredited": f"{DEFAULT_POLICY_ARC}.3",
    }


def test_profile_is_immutable() -> None:
    profile = PkiProfile()
    with pytest.raises(AttributeError):
        profile.validity_days = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        profile.trust_levels["x"] = 9  # type: ignore[index]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[subscriber]\nvalidity_days = 826\n", "validity_days"),
        ("[subscriber]\nvalidity_days = 825\n", "validity_days"),
        ('[subscriber]\nvalidity_days = "365"\n', "[subscriber] validity_days: must be a int"),
        ("[subscriber]\ncolour = 1\n", "[subscriber] colour: unknown key"),
        ("surprise = 1\n", "surprise: unknown key"),
        ('[subscriber]\nallowed_keys = ["rsa-1024"]\n', "[subscriber] allowed_keys"),
        ('[ca]\nkey = "ec-p256"\n', "ca.key"),
        ('[policy]\narc = "2.23.140.1"\n', "policy.arc"),
        ('[policy]\narc = "2.25.85445705801374016707946917542913737093"\n', "pkilint"),
        ('[policy]\narc = "2.999.1"\n', "pkilint"),
        ("[policy.trust_levels]\na = 1\nb = 1\n", "share one arc"),
        ("[revocation]\ncrl_validity_hours = 241\n", "crl_validity_hours"),
        ("[revocation]\nocsp_validity_hours = 7\n", "ocsp_validity_hours"),
        ("[ca\n", "not valid TOML"),
    ],
)
def test_bad_profiles_name_file_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PkiError) as caught:
        load_profile(path)
    assert caught.value.kind == "malformed"
    assert str(path) in caught.value.detail
    assert expected in caught.value.detail


def test_missing_profile_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(PkiError) as caught:
        load_profile(tmp_path / "nope.toml")
    assert caught.value.kind == "not-found"


def test_partial_profile_takes_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "short"\n[subscriber]\nvalidity_days = 90\n[policy]\narc = "1.3.6.1.4.1.99999.1"\n',
    )
    profile = load_profile(path)
    assert profile.validity_days == 90
    assert profile.trust_level_oid("accredited") == "1.3.6.1.4.1.99999.1.3"
    with pytest.raises(PkiError) as caught:
        profile.trust_level_oid("none")
    assert caught.value.kind == "malformed"
