"""Two real directories: A (`clearance demo`, served) and B (`clearance init`, served, with
another directory_name). B adds A as a peer with the public key `clearance federation key show`
prints in A, fetches A's signed trust list over HTTP with a federation-scope key made in A, and
answers lookups of A's addresses as "federated", under B's policy and B's cap on A. Suspending
the peer in B turns them to unknown within B's cache_refresh_seconds."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.serve import REPO, Served, clearance, served_demo, serving
from tests.support.servers import require_tool

pytestmark = pytest.mark.integration
REFRESH = 1.0  # B's cache_refresh_seconds
ADDRESS = "j.smith@wessex.gov.uk"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*clearance(), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    return done


def ok(env: dict[str, str], *args: str) -> str:
    done = run(env, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def until(check: Callable[[], Any], seconds: float) -> Any:
    """Poll `check` until it returns something truthy, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


@pytest.fixture
def directory_a(tmp_path: Path) -> Iterator[Served]:
    require_tool("clearance")
    with served_demo(tmp_path / "a") as served:
        yield served


def test_b_answers_for_a_through_federation(directory_a: Served, tmp_path: Path) -> None:
    a = directory_a
    # In A: its public key, and a federation-scope key for B.
    shown = ok(a.env, "federation", "key", "show", "--json")
    public = json.loads(shown)
    made = json.loads(ok(a.env, "apikey", "create", "--scope", "federation", "--json"))
    assert made["scopes"] == ["federation"]
    # In B: a plain directory that knows nothing of Wessex; A as its peer.
    b_home = tmp_path / "b" / "home"
    b_env = {
        **os.environ,
        "CLEARANCE_HOME": str(b_home),
        "CLEARANCE_DIRECTORY_NAME": "region-b",
        "CLEARANCE_CACHE_REFRESH_SECONDS": str(REFRESH),
    }
    b_env.pop("CLEARANCE_DATABASE_URL", None)
    ok(b_env, "init")
    (tmp_path / "a.pem").write_text(public["public_key"])
    (tmp_path / "a.key").write_text(made["key"] + "\n")
    list_url = f"{a.url}/v1/federation/trust-list"
    ok(b_env, "federation", "peer", "add", "wessex", "--public-key", str(tmp_path / "a.pem"),
       "--url", list_url, "--max-trust", "organisation-verified", "--permit", "uk")  # fmt: skip
    b_lookup_key = json.loads(ok(b_env, "apikey", "create", "--scope", "lookup", "--json"))["key"]

    with serving(b_env, tmp_path / "b.log") as b_url, httpx.Client(timeout=10) as http:

        def look(address: str = ADDRESS) -> dict[str, Any]:
            reply = http.get(
                f"{b_url}/v1/lookup",
                params={"address": address, "classification": "OFFICIAL-SENSITIVE"},
                headers={"Authorization": f"Bearer {b_lookup_key}"},
            )
            assert reply.status_code == 200, reply.text
            return dict(reply.json())

        assert look()["known"] is False  # nothing of A's yet
        # A's trust list is not for just anyone: the demo's lookup key is refused there.
        denied = http.get(list_url, headers={"Authorization": f"Bearer {a.key}"})
        assert denied.status_code == 403
        assert denied.headers["content-type"].startswith("application/problem+json")
        # The new federation key shows in A within its cache refresh.
        assert until(
            lambda: http.get(list_url, headers={"Authorization": f"Bearer {made['key']}"})
            .status_code == 200,
            10,
        )  # fmt: skip

        # B fetches over HTTP from A, verifies with A's key, imports.
        report = json.loads(
            ok(b_env, "federation", "import", "wessex", "--fetch",
               "--api-key-file", str(tmp_path / "a.key"), "--json")
        )  # fmt: skip
        assert report["imported"] == {"domains": 7, "mailboxes": 8}
        assert report["directory"] == "clearance" and report["skipped"] == []

        answer = until(lambda: (found := look())["known"] and found, REFRESH + 5)
        assert answer, look()
        assert answer["matched"] == "federated"
        assert answer["organisation"]["directory"] == "wessex"
        assert answer["organisation"]["name"] == "Wessex County Council"
        # accredited in A, capped at organisation-verified by B: OFFICIAL only, under B's policy
        assert answer["trust_level"] == "organisation-verified"
        assert answer["max_classification"] == "OFFICIAL"
        assert answer["permitted"] is False
        assert {r["code"] for r in answer["reasons"]} >= {"federation.capped-by-peer"}
        assert answer["valid_until"] <= report["valid_until"]
        assert look("noreply@wessex.gov.uk")["known"] is False  # A's exclusion holds in B
        assert look("ops@anglebury-cases.co.uk")["known"] is False  # suspended in A

        # Suspended in B: unknown within the bounded time, cache_refresh_seconds.
        ok(b_env, "federation", "peer", "suspend", "wessex")
        started = time.monotonic()
        gone = until(lambda: not look()["known"], REFRESH + 5)
        assert gone, look()
        assert time.monotonic() - started <= REFRESH + 5
        assert look()["permitted"] is False and look()["max_classification"] is None
        listed = json.loads(ok(b_env, "federation", "peer", "list", "--json"))
        assert listed[0]["status"] == "suspended" and listed[0]["domains"] == 7
        # A replay of the same list is refused in B (exit 2), and changes nothing.
        again = run(b_env, "federation", "peer", "resume", "wessex")
        assert again.returncode == 0
        replay = tmp_path / "replay.json"
        first = http.get(list_url, headers={"Authorization": f"Bearer {made['key']}"}).text
        replay.write_text(first)
        assert run(b_env, "federation", "import", "wessex", str(replay)).returncode == 0
        assert run(b_env, "federation", "import", "wessex", str(replay)).returncode == 2
    assert ok(b_env, "audit", "verify") is not None
