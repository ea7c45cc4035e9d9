"""Checking in worker processes (`CheckPool`, `run_due(processes=N)`) records exactly what the
single-process run records, against the real Knot DNS server and HTTPS policy server."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory
from directory.settings import load_settings
from directory.verification.pool import CheckPool, PostureJob
from directory.verification.service import DnsVerification
from tests.conftest import ADMIN, START, FrozenClock
from tests.integration.dns_lab import DnsLab, cli_with_organisation, start_lab
from tests.support.servers import require_tool

pytestmark = pytest.mark.integration

DOMAINS = ["good.test", "weak.test", "loop.test", "twospf.test", "servfail.test"]


@pytest.fixture(scope="module")
def lab() -> Iterator[DnsLab]:
    knotd = require_tool("knotd", "/usr/sbin/knotd")
    with tempfile.TemporaryDirectory(prefix="clearance-dns-pool-") as tmp:
        started = start_lab(knotd, Path(tmp))
        try:
            yield started
        finally:
            started.stop()


def make(home: Path, clock: FrozenClock, lab: DnsLab, **extra: object) -> Directory:
    settings = load_settings(home=home, cache_refresh_seconds=0.0, **lab.settings(**extra))
    directory = Directory(settings, clock)
    directory.initialise()
    return directory


def set_up(directory: Directory, lab: DnsLab) -> dict[str, str]:
    """Pending claims for DOMAINS (good.test's challenge published), a hand-recorded posture for
    servfail.test; returns the values to mask when comparing two directories (ids, tokens)."""
    reg = directory.registration
    org = reg.create_organisation(ADMIN, "Wessex County Council", "local-government", {})
    service = DnsVerification(directory)
    masks = {org.id: "<org>"}
    for name in DOMAINS:
        challenge = service.claim(ADMIN, org.id, name)
        masks[challenge.domain.id] = f"<id {name}>"
        masks[challenge.token] = f"<token {name}>"
        if name == "good.test":
            lab.knot.update(name, ("add", "_clearance-challenge", "TXT", f'"{challenge.value}"'))
    servfail = reg.domain_named("servfail.test")
    reg.record_posture(ADMIN, servfail.id, evidence="by hand", mta_sts="enforce", dmarc="reject")
    return masks


def canonical(value: Any) -> Any:
    """Findings come in the order the DNS answers arrived, and a temporary failure names the
    query that failed first (in either path): compare findings, and the evidence summary listing
    them, as sets, and a temporary failure by its reason only."""
    if isinstance(value, dict):
        out = {key: canonical(item) for key, item in value.items()}
        if out.get("code") == "dns.temporary-failure" and isinstance(out.get("message"), str):
            out["message"] = re.sub(r"\): \S+ \S+: ", "): <query>: ", out["message"])
        for key in ("findings", "problems"):
            if isinstance(out.get(key), list):
                out[key] = sorted(out[key], key=lambda x: json.dumps(x, sort_keys=True))
        evidence = out.get("evidence")
        if isinstance(evidence, str) and evidence.startswith("dns check; "):
            out["evidence"] = sorted(evidence.removeprefix("dns check; ").split(", "))
        return out
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def recorded(directory: Directory, masks: dict[str, str], after: int) -> dict[str, Any]:
    """What the sweep recorded for each domain (row and audit entries), ids and tokens masked."""
    out: dict[str, Any] = {}
    for name in DOMAINS:
        domain = directory.registration.domain_named(name)
        row = directory.store.domain_row(domain.id) or {}
        entries = [
            (e.actor, e.action, e.at, e.before, e.after, e.extra)
            for e in directory.store.audit_entries(entity_id=domain.id, after=after, limit=100)
        ]
        state = {
            key: row.get(key)
            for key in ("verified_at", "verification_method", "verification_evidence", "posture")
        }
        out[name] = {"state": state, "audit": entries}
    text = json.dumps(out, sort_keys=True, default=str)
    for value, placeholder in masks.items():
        text = text.replace(value, placeholder)
    return dict(canonical(json.loads(text)))


def test_pooled_run_records_what_the_single_process_run_records(
    tmp_path: Path, lab: DnsLab
) -> None:
    clock = FrozenClock(START)
    one, two = make(tmp_path / "one", clock, lab), make(tmp_path / "two", clock, lab)
    try:
        masks = set_up(one, lab) | set_up(two, lab)  # good.test publishes both tokens
        marks = [d.store.audit_entries(limit=100_000)[-1].position for d in (one, two)]
        clock.advance(hours=25)  # the hand-recorded posture is due again
        single = DnsVerification(one).run_due(ADMIN, concurrency=4)
        pooled = DnsVerification(two).run_due(ADMIN, concurrency=4, processes=2)
        assert canonical(pooled) == canonical(single)
        assert {(r["domain"], r["job"]) for r in single} == {
            (d, job) for d in DOMAINS for job in ("verify", "posture")
        }
        status = {(r["domain"], r["job"]): r["status"] for r in single}
        assert status[("good.test", "verify")] == "verified"
        assert status[("loop.test", "verify")] == "not-verified"
        assert status[("servfail.test", "verify")] == "temporary-failure"
        assert status[("servfail.test", "posture")] == "temporary-failure"
        first = recorded(one, masks, marks[0])
        assert recorded(two, masks, marks[1]) == first
        # the failing domain kept its last good (hand-recorded) posture; the deferrals audited
        kept = first["servfail.test"]
        assert kept["state"]["posture"]["source"] == "manual"
        assert [a[1] for a in kept["audit"]] == [
            "domain.verify-dns-deferred",
            "domain.posture-dns-deferred",
        ]
        assert first["good.test"]["state"]["verification_method"] == "dns"
        assert first["good.test"]["state"]["posture"]["source"] == "dns"
    finally:
        one.close()
        two.close()
        lab.knot.update("good.test", ("delete", "_clearance-challenge", "TXT", ""))


def test_pool_runs_in_other_processes_and_matches_in_process_checks(
    tmp_path: Path, lab: DnsLab
) -> None:
    directory = make(tmp_path / "home", FrozenClock(START), lab)
    try:
        service = DnsVerification(directory)
        expected = [service.preview(ADMIN, name).as_dict() for name in DOMAINS]
        with CheckPool(directory.settings, processes=2, concurrency=4) as pool:
            pids = pool.warm()
            results = pool.check(DOMAINS, START)
        assert len(pids) == 2 and os.getpid() not in pids
        assert canonical([r.as_dict() for r in results]) == canonical(expected)
    finally:
        directory.close()


def test_a_broken_worker_fails_the_run_closed(tmp_path: Path, lab: DnsLab) -> None:
    settings = load_settings(
        home=tmp_path / "home", **lab.settings(dns_trust_anchors=str(tmp_path / "missing"))
    )
    with (
        CheckPool(settings, processes=2, concurrency=2) as pool,
        pytest.raises(DirectoryError) as caught,
    ):
        pool.run([PostureJob("good.test", START)])
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    with pytest.raises(DirectoryError) as bad:
        CheckPool(settings, processes=0, concurrency=2)
    assert bad.value.kind is ErrorKind.MALFORMED


def test_cli_processes_option(tmp_path: Path, lab: DnsLab, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, app, org_id = cli_with_organisation(lab, tmp_path / "cli-home", monkeypatch)
    assert runner.invoke(app, ["domain", "claim", org_id, "weak.test"]).exit_code == 0
    assert runner.invoke(app, ["verify", "due", "--processes", "0"]).exit_code == 2
    due = runner.invoke(app, ["verify", "due", "--processes", "2", "--json"])
    assert due.exit_code == 0, due.output
    report = {(r["domain"], r["job"]): r["status"] for r in json.loads(due.stdout)}
    assert report == {("weak.test", "verify"): "not-verified", ("weak.test", "posture"): "checked"}
