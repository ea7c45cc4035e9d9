"""`clearance federation ...`: keys made by init, export, peers, imports; bad input exits 2 and
changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from directory.federation import keys
from pki.signing import generate_signing_key, key_id, load_public_key, public_key_pem
from tests.cli.conftest import Run, opened, written


def test_init_makes_the_key_and_show_prints_it(run: Run, home: Path) -> None:
    assert run("init").exit_code == 0
    key_file = home / keys.KEY_FILE
    assert key_file.is_file() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    shown = run("federation", "key", "show")
    assert shown.exit_code == 0, shown.output
    pem, _, kid = shown.stdout.partition("-----END PUBLIC KEY-----\n")
    pem += "-----END PUBLIC KEY-----\n"
    assert kid.strip() == key_id(load_public_key(pem))
    again = run("federation", "key", "init")
    assert again.exit_code == 0 and "exists" in again.stdout and kid.strip() in again.stdout


def test_export_then_import_into_another_home(
    run: Run, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("demo").exit_code == 0
    out = tmp_path / "list.json"
    assert run("federation", "export", "--out", str(out)).exit_code == 0
    pem = run("federation", "key", "show").stdout.split("-----END PUBLIC KEY-----")[0]
    (tmp_path / "a.pem").write_text(pem + "-----END PUBLIC KEY-----\n")
    monkeypatch.setenv("CLEARANCE_HOME", str(tmp_path / "b"))
    assert run("init").exit_code == 0
    added = run("federation", "peer", "add", "wessex", "--public-key", str(tmp_path / "a.pem"),
                "--permit", "gov.uk", "--permit", "nhs.uk", "--permit", "police.uk",
                "--permit", "org.uk", "--permit", "co.uk")  # fmt: skip
    assert added.exit_code == 0, added.output
    imported = run("federation", "import", "wessex", str(out), "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["imported"] == {"domains": 7, "mailboxes": 8}
    answer = run("lookup", "j.smith@wessex.gov.uk", "--json")
    assert json.loads(answer.stdout)["matched"] == "federated"
    listed = json.loads(run("federation", "peer", "list", "--json").stdout)
    assert listed[0]["domains"] == 7
    assert listed[0]["permitted"] == ["co.uk", "gov.uk", "nhs.uk", "org.uk", "police.uk"]
    narrowed = run("federation", "peer", "constrain", "wessex", "--permit", "nhs.uk")
    assert narrowed.exit_code == 0 and "permitted nhs.uk" in narrowed.output
    assert json.loads(run("federation", "peer", "list", "--json").stdout)[0]["domains"] == 1
    assert json.loads(run("lookup", "j.smith@wessex.gov.uk", "--json").stdout)["known"] is False
    assert run("federation", "peer", "constrain", "wessex", "--permit", "a b").exit_code == 2
    assert run("federation", "peer", "suspend", "wessex").exit_code == 0
    assert json.loads(run("lookup", "safeguarding@cwh.nhs.uk", "--json").stdout)["known"] is False
    assert run("federation", "peer", "remove", "wessex").exit_code == 0
    with opened() as d:
        assert d.store.verify_audit()[1] == []


def test_bad_input_exits_2_and_changes_nothing(run: Run, home: Path, tmp_path: Path) -> None:
    assert run("init").exit_code == 0
    good = tmp_path / "good.pem"
    good.write_text(public_key_pem(generate_signing_key()))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    before = written()
    for args in [
        ("federation", "peer", "add", "x", "--public-key", str(bad), "--permit", "uk"),
        ("federation", "peer", "add", "x", "--public-key", str(good)),  # no name constraints
        ("federation", "peer", "add", "x", "--public-key", str(good), "--permit", "not a name"),
        ("federation", "peer", "add", "Bad Name", "--public-key", str(good), "--permit", "uk"),
        (
            "federation",
            "peer",
            "add",
            "x",
            "--public-key",
            str(good),
            "--max-trust",
            "total",
            "--permit",
            "uk",
        ),
        (
            "federation",
            "peer",
            "add",
            "x",
            "--public-key",
            str(tmp_path / "missing.pem"),
            "--permit",
            "uk",
        ),
        ("federation", "peer", "suspend", "nobody"),
        ("federation", "import", "nobody", str(garbage)),
        ("federation", "import", "x"),  # neither a file nor --fetch
    ]:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
    assert written() == before
    assert (
        run("federation", "peer", "add", "x", "--public-key", str(good), "--permit", "uk").exit_code
        == 0
    )
    before = written()
    assert run("federation", "import", "x", str(garbage)).exit_code == 2
    assert run("federation", "import", "x", "--fetch").exit_code == 2  # no URL
    assert written() == before
