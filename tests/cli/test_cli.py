"""`clearance init`, `demo`, `lookup`, `apikey` and `audit verify`: output and exit codes."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from directory.errors import DirectoryError
from tests.cli.conftest import Run, opened, written
from tests.support.answers import ANSWER_KEYS

KEY = re.compile(r"clr_[a-z2-7]{40}")


@pytest.fixture
def demo(run: Run) -> str:
    result = run("demo")
    assert result.exit_code == 0, result.output
    keys = KEY.findall(result.stdout)
    assert len(set(keys)) == 1
    return keys[0]


def test_init_is_idempotent(run: Run, home: Path) -> None:
    for _ in range(2):
        result = run("init")
        assert result.exit_code == 0, result.output
        assert "directory ready" in result.stdout
    assert (home / "clearance.db").is_file()


def test_lookup_on_an_uninitialised_home_says_what_to_do(run: Run) -> None:
    result = run("lookup", "a@example.org")
    assert result.exit_code == 2
    assert "clearance init" in result.stderr


def test_demo_is_idempotent_and_prints_a_working_lookup_key(run: Run, home: Path) -> None:
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "Created" in first.stdout
    with opened() as d:
        count = len(d.store.organisations())
    assert count >= 9
    first_key = KEY.findall(first.stdout)[0]
    second = run("demo")
    assert second.exit_code == 0, second.output
    assert "already exist" in second.stdout
    second_key = KEY.findall(second.stdout)[0]
    assert (home / "demo-api-key").read_text().strip() == second_key
    with opened() as d:
        assert len(d.store.organisations()) == count
        principal = d.authenticate(second_key)
        assert principal.scopes == frozenset({"lookup"})
        with pytest.raises(DirectoryError):
            d.authenticate(first_key)  # the earlier demo key was revoked
        assert d.store.verify_audit()[1] == []


LOOKUPS: list[tuple[list[str], int]] = [
    (["j.smith@wessex.gov.uk", "-c", "OFFICIAL-SENSITIVE"], 0),
    (["J.Smith@WESSEX.gov.uk", "--classification", "RESTRICTED"], 0),
    (["j.smith@wessex.gov.uk"], 0),  # verified, no classification asked
    (["anyone@wessex.gov.uk", "-c", "SECRET"], 1),
    (["alerts@casterbridge.gov.uk", "-c", "OFFICIAL-SENSITIVE"], 1),
    (["ops@anglebury-cases.co.uk", "-c", "OFFICIAL"], 1),
    (["nobody@example.org"], 1),
    (["nobody@example.org", "-c", "OFFICIAL"], 1),
    (["not an address"], 2),
    (["a@example.org", "-c", "ULTRA"], 2),
]


def test_lookup_exit_codes(run: Run, demo: str) -> None:
    """0 permitted (or verified with no classification asked), 1 not, 2 bad input."""
    before = written()
    for args, code in LOOKUPS:
        result = run("lookup", *args)
        assert result.exit_code == code, (args, result.output)
        if code == 2:
            assert "error" in result.stderr
        else:
            assert "max classification" in result.stdout
    assert written() == before


def test_lookup_json_prints_the_designed_answer(run: Run, demo: str) -> None:
    result = run("lookup", "j.smith@wessex.gov.uk", "-c", "OFFICIAL", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) == ANSWER_KEYS
    assert answer["permitted"] is True and answer["classification"] == "OFFICIAL"
    assert answer["organisation"]["name"] == "Wessex County Council"
    refused = run("lookup", "ops@anglebury-cases.co.uk", "-c", "OFFICIAL", "--json")
    assert refused.exit_code == 1
    body = json.loads(refused.stdout)
    assert set(body) == ANSWER_KEYS and body["permitted"] is False


def test_apikey_create_prints_the_key_once(run: Run, demo: str) -> None:
    result = run("apikey", "create", "--scope", "lookup", "--name", "gateway")
    assert result.exit_code == 0, result.output
    keys = KEY.findall(result.output)
    assert len(keys) == 1
    with opened() as d:
        assert d.authenticate(keys[0]).scopes == frozenset({"lookup"})
    listing = run("apikey", "list", "--json")
    assert listing.exit_code == 0
    assert keys[0] not in listing.output and "gateway" in listing.output
    as_json = run("apikey", "create", "--scope", "lookup", "--scope", "directory-admin", "--json")
    assert as_json.exit_code == 0
    created = json.loads(as_json.stdout)
    assert created["scopes"] == ["directory-admin", "lookup"] and KEY.fullmatch(created["key"])
    revoked = run("apikey", "revoke", created["id"])
    assert revoked.exit_code == 0
    with opened() as d, pytest.raises(DirectoryError):
        d.authenticate(created["key"])


def test_apikey_with_a_bad_scope_is_refused(run: Run, demo: str) -> None:
    before = written()
    for scopes in (
        ["root"],
        ["lookup", "root"],
        ["org-admin:not-an-id"],
        ["org-admin:00000000-0000-0000-0000-000000000000"],
        [],
    ):
        args = [a for s in scopes for a in ("--scope", s)]
        result = run("apikey", "create", *args)
        assert result.exit_code == 2, (scopes, result.output)
        assert not KEY.search(result.output)
    assert written() == before


def test_audit_verify_finds_an_edited_entry(run: Run, home: Path, demo: str) -> None:
    intact = run("audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.stdout
    db = sqlite3.connect(home / "clearance.db")
    try:
        assert db.execute("UPDATE audit_log SET actor='mallory' WHERE position=3").rowcount == 1
        db.commit()
    finally:
        db.close()
    broken = run("audit", "verify")
    assert broken.exit_code == 1
    assert "edited" in broken.stdout and "3" in broken.stdout
    as_json = run("audit", "verify", "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert [(p["position"], p["problem"]) for p in report["problems"]] == [(3, "edited")]
    log = run("audit", "log", "--json", "--after", "2", "--limit", "1")
    assert json.loads(log.stdout)[0]["actor"] == "mallory"


def test_the_demo_names_the_port_it_was_given_and_prints_tables_in_full(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # as a pipe or a script would see
    result = run("demo", "--port", "18000")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:18000/v1/lookup?" in result.stdout
    assert ":8000/" not in result.stdout
    # not a terminal: every value in full, never cut at 80 columns
    assert "support@casterbridgeyoungcarers.org.uk" in result.stdout
    assert "charity sponsored by the city council" in result.stdout
    assert "…" not in result.stdout


def test_a_claim_prints_its_record_on_one_line_and_says_when_it_replaces_one(run: Run) -> None:
    assert run("init").exit_code == 0
    made = run("org", "create", "Melchester City Council", "--sector", "local-government")
    assert made.exit_code == 0, made.output
    domain = "mail.a-rather-long-name-for-a-council.melchester.gov.uk"
    first = run("domain", "claim", "Melchester City Council", domain)
    assert first.exit_code == 0, first.output
    record = re.compile(
        rf'^  _clearance-challenge\.{re.escape(domain)}\. IN TXT "token=[A-Z2-7]+ expiry=\S+"$',
        re.M,
    )
    assert record.search(first.stdout), first.stdout
    assert "replaces" not in first.stdout
    second = run("domain", "claim", "Melchester City Council", domain)
    assert second.exit_code == 0, second.output
    assert "replaces the challenge issued before" in second.stdout
    assert record.search(second.stdout) and record.search(second.stdout) != record.search(
        first.stdout
    )
