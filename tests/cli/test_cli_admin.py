"""The admin commands mirror the HTTP admin API: a small directory built with the CLI alone, and
bad input to every command (exit 2, nothing written)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.cli.conftest import Run, written


def ok(run: Run, *args: str) -> Any:
    result = run(*args)
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout) if "--json" in args else result.stdout


def dates() -> tuple[str, str]:
    now = datetime.now(UTC)
    return (now - timedelta(days=10)).date().isoformat(), (now + timedelta(days=300)).isoformat()


def build(run: Run) -> dict[str, Any]:
    """A council (domain-wide and one mailbox) and a charity it sponsors, with the CLI only."""
    ok(run, "init")
    start, end = dates()
    council = ok(
        run, "org", "create", "Wessex Council", "--sector", "local-government",
        "--id", "gss=E10000099", "--json",
    )  # fmt: skip
    ok(run, "domain", "add", council["id"], "wessex.gov.uk", "--json")
    ok(run, "domain", "verify-manual", "wessex.gov.uk", "--evidence", "TXT seen")
    ok(
        run, "domain", "posture-manual", "wessex.gov.uk", "--evidence", "checked",
        "--mta-sts", "enforce", "--dmarc", "reject",
    )  # fmt: skip
    ok(run, "org", "vet", "Wessex Council", "--evidence", "GSS register")
    ok(run, "org", "activate", "wessex.gov.uk", "--reason", "approved")
    accreditation = ok(
        run, "accreditation", "add", council["id"], "--scheme", "psn-compliance",
        "--evidence", "PSN-1", "--from", start, "--expires", end, "--json",
    )  # fmt: skip
    wide = ok(run, "recipient", "add-domain", council["id"], "wessex.gov.uk", "--json")
    person = ok(
        run, "recipient", "add", council["id"], "j.smith@wessex.gov.uk", "--name", "Jo Smith",
        "--mailbox-verified", "--json",
    )  # fmt: skip
    charity = ok(
        run, "org", "create", "Young Carers", "--sector", "third-sector", "--id", "charity=1",
        "--json",
    )  # fmt: skip
    ok(run, "domain", "add", "Young Carers", "carers.org.uk")
    ok(run, "domain", "verify-manual", "carers.org.uk", "--evidence", "TXT seen")
    ok(run, "domain", "posture-manual", "carers.org.uk", "--evidence", "checked")
    ok(run, "org", "activate", charity["id"], "--reason", "approved")
    ok(run, "recipient", "add-domain", "Young Carers", "carers.org.uk")
    return {
        "council": council,
        "charity": charity,
        "accreditation": accreditation,
        "wide": wide,
        "person": person,
    }


def code(run: Run, *args: str) -> int:
    return run(*args).exit_code


def test_a_directory_built_with_the_cli_answers_lookups(run: Run) -> None:
    made = build(run)
    assert code(run, "lookup", "j.smith@wessex.gov.uk", "-c", "OFFICIAL") == 0
    assert code(run, "lookup", "anyone@wessex.gov.uk", "-c", "OFFICIAL-SENSITIVE") == 0
    assert code(run, "lookup", "help@carers.org.uk", "-c", "OFFICIAL") == 1  # not vetted

    start, end = dates()
    sponsorship = ok(
        run, "sponsorship", "add", "Wessex Council", "carers.org.uk", "--purpose", "referrals",
        "--ceiling", "OFFICIAL", "--from", start, "--expires", end, "--json",
    )  # fmt: skip
    assert code(run, "lookup", "help@carers.org.uk", "-c", "OFFICIAL") == 0
    assert code(run, "lookup", "help@carers.org.uk", "-c", "OFFICIAL-SENSITIVE") == 1
    ok(run, "sponsorship", "end", sponsorship["id"])
    assert code(run, "lookup", "help@carers.org.uk", "-c", "OFFICIAL") == 1

    ok(run, "accreditation", "end", made["accreditation"]["id"])
    assert code(run, "lookup", "j.smith@wessex.gov.uk", "-c", "OFFICIAL-SENSITIVE") == 1
    assert code(run, "lookup", "j.smith@wessex.gov.uk", "-c", "OFFICIAL") == 0

    ok(run, "recipient", "remove", made["person"]["id"])
    answer = ok(run, "lookup", "j.smith@wessex.gov.uk", "--json")
    assert answer["matched"] == "domain"

    ok(run, "org", "suspend", "Wessex Council", "--reason", "incident")
    assert code(run, "lookup", "anyone@wessex.gov.uk", "-c", "OFFICIAL") == 1
    ok(run, "org", "activate", "Wessex Council", "--reason", "resolved")
    ok(run, "org", "update", "Wessex Council", "--name", "Wessex County Council")
    shown = ok(run, "org", "show", "wessex.gov.uk", "--json")
    assert shown["organisation"]["name"] == "Wessex County Council"
    assert [d["name"] for d in shown["domains"]] == ["wessex.gov.uk"]
    listed = ok(run, "org", "list", "--json")
    assert {o["name"] for o in listed} == {"Wessex County Council", "Young Carers"}
    assert len(ok(run, "recipient", "list", "Young Carers", "--json")) == 1
    assert [d["name"] for d in ok(run, "domain", "list", "Young Carers", "--json")] == [
        "carers.org.uk"
    ]
    for human in (["org", "list"], ["org", "show", "Young Carers"], ["audit", "log"]):
        assert run(*human).exit_code == 0, human
    ok(run, "domain", "remove", "carers.org.uk")
    assert code(run, "lookup", "help@carers.org.uk") == 1
    ok(run, "org", "withdraw", "Young Carers", "--reason", "closed")
    assert code(run, "audit", "verify") == 0


def test_bad_input_to_every_admin_command_is_exit_2_and_writes_nothing(run: Run) -> None:
    made = build(run)
    council, charity = made["council"]["id"], made["charity"]["id"]
    start, end = dates()
    nope = "00000000-0000-0000-0000-000000000000"
    bad: list[list[str]] = [
        ["org", "create", "X", "--sector", "pirates"],
        ["org", "create", "X", "--sector", "health", "--id", "ods"],
        ["org", "create", "X", "--sector", "health", "--id", "nhs=1"],
        ["org", "create", "   ", "--sector", "health"],
        ["org", "create", "X"],  # missing --sector: a usage error
        ["org", "show", "Nobody"],
        ["org", "vet", "Nobody", "--evidence", "x"],
        ["org", "vet", council, "--evidence", ""],
        ["org", "activate", nope, "--reason", "x"],
        ["org", "activate", council, "--reason", "already active"],
        ["org", "suspend", "Nobody", "--reason", "x"],
        ["org", "withdraw", "Nobody", "--reason", "x"],
        ["org", "update", council],  # nothing to change
        ["org", "update", council, "--id", "bad"],
        ["domain", "add", council, "not a domain"],
        ["domain", "add", "Nobody", "x.gov.uk"],
        ["domain", "add", charity, "wessex.gov.uk"],  # claimed already
        ["domain", "add", council, "x.gov.uk", "--subaddress", "#"],
        ["domain", "list", "Nobody"],
        ["domain", "verify-manual", "unknown.gov.uk", "--evidence", "x"],
        ["domain", "verify-manual", "wessex.gov.uk", "--evidence", " "],
        ["domain", "posture-manual", "wessex.gov.uk", "--evidence", "x", "--dmarc", "maybe"],
        ["domain", "posture-manual", "wessex.gov.uk", "--evidence", "x", "--mta-sts", "on"],
        ["domain", "remove", "unknown.gov.uk"],
        ["recipient", "add", council, "not-an-address"],
        ["recipient", "add", council, "a@elsewhere.org"],
        ["recipient", "add", council, "j.smith@wessex.gov.uk"],  # already there
        ["recipient", "add", council, "b@wessex.gov.uk", "--role", "robot"],
        ["recipient", "add", "Nobody", "b@wessex.gov.uk"],
        ["recipient", "add-domain", council, "wessex.gov.uk"],  # already there
        ["recipient", "add-domain", council, "carers.org.uk"],  # not its domain
        ["recipient", "list", "Nobody"],
        ["recipient", "remove", nope],
        [
            "accreditation",
            "add",
            council,
            "--scheme",
            "iso-27001",
            "--evidence",
            "x",
            "--from",
            end,
            "--expires",
            start,
        ],
        [
            "accreditation",
            "add",
            council,
            "--scheme",
            "iso-27001",
            "--evidence",
            "x",
            "--from",
            "yesterday",
            "--expires",
            end,
        ],
        [
            "accreditation",
            "add",
            "Nobody",
            "--scheme",
            "iso-27001",
            "--evidence",
            "x",
            "--from",
            start,
            "--expires",
            end,
        ],
        ["accreditation", "end", nope],
        [
            "sponsorship",
            "add",
            council,
            charity,
            "--purpose",
            "x",
            "--ceiling",
            "SECRET",
            "--from",
            start,
            "--expires",
            end,
        ],
        [
            "sponsorship",
            "add",
            council,
            charity,
            "--purpose",
            "x",
            "--ceiling",
            "ULTRA",
            "--from",
            start,
            "--expires",
            end,
        ],
        [
            "sponsorship",
            "add",
            council,
            charity,
            "--purpose",
            "x",
            "--ceiling",
            "OFFICIAL",
            "--from",
            end,
            "--expires",
            start,
        ],
        [
            "sponsorship",
            "add",
            charity,
            council,
            "--purpose",
            "x",
            "--ceiling",
            "OFFICIAL",
            "--from",
            start,
            "--expires",
            end,
        ],  # the charity is not vetted
        [
            "sponsorship",
            "add",
            council,
            council,
            "--purpose",
            "x",
            "--ceiling",
            "OFFICIAL",
            "--from",
            start,
            "--expires",
            end,
        ],
        ["sponsorship", "end", nope],
        ["apikey", "create", "--scope", "everything"],
        ["apikey", "revoke", nope],
        ["audit", "log", "--limit", "0"],
    ]
    before = written()
    for args in bad:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
    assert written() == before


@pytest.mark.parametrize("command", ["org", "domain", "recipient", "accreditation", "sponsorship"])
def test_every_group_has_help(run: Run, command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0 and "Usage" in result.stdout
