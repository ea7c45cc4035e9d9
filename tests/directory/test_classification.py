"""Classification schemes: aliases, ordering, and schemes as data (config/schemes/*.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from directory.classification import Scheme, fold, load_scheme
from directory.configfile import ConfigError
from directory.errors import DirectoryError, ErrorKind
from directory.settings import REPO_CONFIG

SCHEMES = REPO_CONFIG / "schemes"


@pytest.fixture(scope="module")
def uk() -> Scheme:
    return load_scheme(SCHEMES / "uk-gsc.toml")


@pytest.fixture(scope="module")
def au() -> Scheme:
    return load_scheme(SCHEMES / "au-pspf.toml")


def test_uk_levels_are_ordered_lowest_first(uk: Scheme) -> None:
    assert [level.name for level in uk.levels] == [
        "OFFICIAL",
        "OFFICIAL-SENSITIVE",
        "SECRET",
        "TOP SECRET",
    ]
    assert [level.rank for level in uk.levels] == [0, 1, 2, 3]
    assert uk.name == "uk-gsc"


@pytest.mark.parametrize(
    ("marking", "expected"),
    [
        ("OFFICIAL", "OFFICIAL"),
        ("official", "OFFICIAL"),
        ("Official", "OFFICIAL"),
        ("PROTECT", "OFFICIAL"),
        ("protect", "OFFICIAL"),
        ("UNCLASSIFIED", "OFFICIAL"),
        ("NOT PROTECTIVELY MARKED", "OFFICIAL"),
        ("not-protectively-marked", "OFFICIAL"),
        ("OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL: SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("Official: Sensitive", "OFFICIAL-SENSITIVE"),
        ("official-sensitive", "OFFICIAL-SENSITIVE"),
        ("official_sensitive", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL - SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("  OFFICIAL   SENSITIVE  ", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL-SENSITIVE PERSONAL", "OFFICIAL-SENSITIVE"),
        ("OFFICIAL-SENSITIVE: COMMERCIAL", "OFFICIAL-SENSITIVE"),
        ("official sensitive locsen", "OFFICIAL-SENSITIVE"),
        ("RESTRICTED", "OFFICIAL-SENSITIVE"),
        ("restricted", "OFFICIAL-SENSITIVE"),
        ("RESTRICTED PERSONAL", "OFFICIAL-SENSITIVE"),  # an alias followed by a descriptor
        ("PROTECT PERSONAL", "OFFICIAL-SENSITIVE"),
        ("CONFIDENTIAL", "SECRET"),
        ("uk secret", "SECRET"),
        ("TOP SECRET", "TOP SECRET"),
        ("top-secret", "TOP SECRET"),
        ("UK TOP SECRET", "TOP SECRET"),
    ],
)
def test_uk_markings_resolve(uk: Scheme, marking: str, expected: str) -> None:
    assert uk.resolve(marking).name == expected
    assert uk.find(marking) == uk.level(expected)


@pytest.mark.parametrize(
    "marking",
    [
        "",
        "SENSITIVE",
        "OFFICIAL PERSONAL",  # PERSONAL is a descriptor of OFFICIAL-SENSITIVE only
        "OFFICIAL-SENSITIVE NONSENSE",
        "SECRET PERSONAL",
        "PROTECTED",  # Australian, not UK
        "OFFICIALSENSITIVE",
        "X" * 201,
        "OFFICIAL" + " PERSONAL" * 30,
    ],
)
def test_unknown_markings_are_malformed(uk: Scheme, marking: str) -> None:
    assert uk.find(marking) is None
    with pytest.raises(DirectoryError) as caught:
        uk.resolve(marking)
    assert caught.value.kind is ErrorKind.MALFORMED
    assert caught.value.extra == {"field": "classification"}
    assert len(caught.value.detail) < 400


def test_the_error_names_the_known_levels(uk: Scheme) -> None:
    with pytest.raises(DirectoryError) as caught:
        uk.resolve("HUSH-HUSH")
    assert "HUSH-HUSH" in caught.value.detail
    assert "OFFICIAL-SENSITIVE" in caught.value.detail
    assert "uk-gsc" in caught.value.detail


def test_fold() -> None:
    assert fold("Official: Sensitive") == "OFFICIAL SENSITIVE"
    assert fold(" a--b__c//d ") == "A B C D"


def test_level_by_exact_name(uk: Scheme) -> None:
    assert uk.level("SECRET").rank == 2
    with pytest.raises(KeyError):
        uk.level("secret")  # names, not markings


def test_australian_scheme_is_data(au: Scheme, uk: Scheme) -> None:
    """A second country's scheme is a file: the code knows none of its names."""
    assert au.name == "au-pspf"
    assert [level.name for level in au.levels] == [
        "UNOFFICIAL",
        "OFFICIAL",
        "OFFICIAL: Sensitive",
        "PROTECTED",
        "SECRET",
        "TOP SECRET",
    ]
    assert [level.rank for level in au.levels] == list(range(6))
    assert au.resolve("SEC=PROTECTED").name == "PROTECTED"
    assert au.resolve("protected cabinet").name == "PROTECTED"
    assert au.resolve("SEC=OFFICIAL:Sensitive").name == "OFFICIAL: Sensitive"
    assert au.resolve("official-sensitive legal privilege").name == "OFFICIAL: Sensitive"
    assert au.resolve("unofficial").rank < au.resolve("OFFICIAL").rank
    assert au.resolve("OFFICIAL").rank < au.resolve("PROTECTED").rank < au.resolve("SECRET").rank
    # The same marking means different things in different schemes.
    assert au.resolve("OFFICIAL").rank == 1
    assert uk.resolve("OFFICIAL").rank == 0
    with pytest.raises(DirectoryError):
        au.resolve("RESTRICTED")
    with pytest.raises(DirectoryError):
        uk.resolve("UNOFFICIAL")


# --- bad scheme files -----------------------------------------------------------------------
GOOD = """
name = "test"
title = "Test scheme"

[[levels]]
name = "LOW"
aliases = ["L"]

[[levels]]
name = "HIGH"
aliases = ["H"]
descriptors = ["PERSONAL"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(tmp_path: Path, text: str) -> ConfigError:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_scheme(path)
    err = caught.value
    assert err.kind is ErrorKind.CONFIG
    assert err.path == str(path)
    assert str(path) in err.detail and err.key in err.detail and err.problem in err.detail
    return err


def test_a_good_scheme_file_loads(tmp_path: Path) -> None:
    scheme = load_scheme(_write(tmp_path, GOOD))
    assert [level.name for level in scheme.levels] == ["LOW", "HIGH"]
    assert scheme.resolve("h personal").name == "HIGH"
    assert scheme.title == "Test scheme"


def test_missing_levels(tmp_path: Path) -> None:
    err = _refused(tmp_path, 'name = "test"\n')
    assert err.key == "levels"
    assert "required" in err.problem


def test_empty_levels(tmp_path: Path) -> None:
    err = _refused(tmp_path, 'name = "test"\nlevels = []\n')
    assert err.key == "levels"
    assert "non-empty" in err.problem


def test_missing_name(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('name = "test"\n', ""))
    assert err.key == "name"


def test_level_without_a_name(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('name = "HIGH"\n', ""))
    assert err.key == "levels[1].name"
    assert "required" in err.problem


def test_duplicate_alias_across_levels(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('aliases = ["H"]', 'aliases = ["L"]'))
    assert err.key == "levels[1]"
    assert "'L'" in err.problem and "LOW" in err.problem


def test_duplicate_after_folding(tmp_path: Path) -> None:
    """'low' and 'LOW' are the same marking to a sender."""
    err = _refused(tmp_path, GOOD.replace('aliases = ["H"]', 'aliases = ["low"]'))
    assert err.key == "levels[1]"
    assert "already used by LOW" in err.problem


def test_alias_equal_to_another_levels_name(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('aliases = ["L"]', 'aliases = ["high"]'))
    assert err.key == "levels[1]"  # found when HIGH's own name is indexed


def test_duplicate_level_names(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('name = "HIGH"', 'name = "LOW"'))
    assert err.key == "levels[1]"


def test_unknown_key_in_a_level(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('aliases = ["H"]', 'aliases = ["H"]\ncolour = "red"'))
    assert err.key == "levels[1].colour"
    assert err.problem == "is not a known setting"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = _refused(tmp_path, 'version = "1"\n' + GOOD)
    assert err.key == "version"
    assert err.problem == "is not a known setting"


def test_aliases_must_be_strings(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD.replace('aliases = ["H"]', "aliases = [1]"))
    assert err.key == "levels[1].aliases"


def test_invalid_toml(tmp_path: Path) -> None:
    err = _refused(tmp_path, GOOD + "\n[[levels]\n")
    assert err.key == "(file)"
    assert "not valid TOML" in err.problem


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "test.toml"
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(ConfigError) as caught:
        load_scheme(path)
    assert caught.value.key == "(file)"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_scheme(tmp_path / "absent.toml")
    assert caught.value.key == "(file)"
    assert "cannot be read" in caught.value.problem
