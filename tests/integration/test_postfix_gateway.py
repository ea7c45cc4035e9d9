"""The gateway with a real Postfix: policy delegation at RCPT time and the socketmap tables.

A separate Postfix instance (its own config, queue and data directories, chroot off) listens on
127.0.0.1 and a free port, asks the gateway's policy service at RCPT time, and holds accepted
mail in its hold queue, where `postcat` reads it back. The gateway runs in a thread over the
demo directory: tag mode, with enforce-known for mail from wessex.gov.uk.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.gateway.server import Gateway, gateway_rules
from directory import demo
from directory.service import Directory
from tests.support.servers import free_port, require_tool, servers_required

pytestmark = pytest.mark.integration

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = gateway-test.clearance.invalid
mydomain = clearance.invalid
mydestination =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions =
    check_policy_service inet:127.0.0.1:{policy_port},
    permit_mynetworks, reject
smtpd_policy_service_default_action = 451 4.3.5 Server configuration problem
smtpd_policy_service_try_limit = 1
smtpd_data_restrictions = check_client_access static:HOLD
smtp_tls_policy_maps = socketmap:inet:127.0.0.1:{socketmap_port}:tlspolicy
relay_recipient_maps = socketmap:inet:127.0.0.1:{socketmap_port}:recipient
"""


class Postfix:
    def __init__(
        self, root: Path, smtp_port: int, policy_port: int, socketmap_port: int, extra: str = ""
    ) -> None:
        self.extra = extra  # more main.cf lines
        self.root = root
        self.conf = root / "conf"
        self.smtp_port = smtp_port
        self.policy_port = policy_port
        self.socketmap_port = socketmap_port

    def start(self) -> None:
        for name in ("conf", "queue", "data"):
            (self.root / name).mkdir()
        shutil.chown(self.root / "data", "postfix")
        (self.conf / "main.cf").write_text(
            MAIN_CF.format(
                root=self.root, policy_port=self.policy_port, socketmap_port=self.socketmap_port
            )
            + self.extra
        )
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.smtp_port))
        self.postfix("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.smtp_port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"postfix did not listen: {self.log()}")

    def postfix(self, command: str) -> None:
        done = subprocess.run(
            ["postfix", "-c", str(self.conf), command], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"postfix {command}: {done.stderr} {self.log()}")

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text()[-3000:] if path.exists() else "(no log)"

    def send(self, recipient: str, sender: str = "clerk@wessex.gov.uk") -> str:
        done = subprocess.run(
            [
                "swaks",
                "--server",
                f"127.0.0.1:{self.smtp_port}",
                "--from",
                sender,
                "--to",
                recipient,
                "--header",
                "Subject: OFFICIAL-SENSITIVE: referral",
                "--timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout + done.stderr

    def queued(self, transcript: str) -> str:
        match = re.search(r"queued as ([0-9A-F]+)", transcript)
        assert match, transcript
        done = subprocess.run(
            ["postcat", "-c", str(self.conf), "-q", match.group(1)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def running_postfix(extra: str = "") -> Iterator[Postfix]:
    for tool in ("swaks", "postmap", "postcat"):
        require_tool(tool)
    require_tool("postfix", "/usr/sbin/postfix")
    if os.geteuid() != 0:
        message = "a Postfix instance must be started as root"
        if servers_required():
            pytest.fail(f"{message}, and CLEARANCE_REQUIRE_SERVERS=1")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="clearance-postfix-"))
    os.chmod(root, 0o755)
    instance = Postfix(root, free_port(), free_port(), free_port(), extra)
    try:
        instance.start()
        yield instance
    finally:
        subprocess.run(
            ["postfix", "-c", str(instance.conf), "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    yield from running_postfix()


@pytest.fixture(scope="module")
def relaying_postfix() -> Iterator[Postfix]:
    """As docs/gateway.md wires relay_recipient_maps: with the domains it covers in relay_domains
    (without them the map is never consulted)."""
    yield from running_postfix("relay_domains = wessex.gov.uk\n")


class GatewayThread:
    """The gateway on its own event loop in a thread, on the ports Postfix was given."""

    def __init__(self, directory: Directory, policy_port: int, socketmap_port: int) -> None:
        self.directory = directory
        self.ports = (policy_port, socketmap_port)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            rules = gateway_rules(
                self.directory,
                mode="tag",
                rules=[{"sender_domains": ["wessex.gov.uk"], "mode": "enforce-known"}],
            )
            gateway = Gateway(self.directory, rules)
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            await gateway.start("127.0.0.1", *self.ports)
            self.ready.set()
            try:
                await self.stop_event.wait()
            finally:
                await gateway.stop()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> GatewayThread:
        self.thread.start()
        assert self.ready.wait(30) and self.error is None, self.error
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


@pytest.fixture
def gateway(directory: Directory, postfix: Postfix) -> Iterator[GatewayThread]:
    demo.seed(directory)
    with GatewayThread(directory, postfix.policy_port, postfix.socketmap_port) as running:
        yield running


def test_a_verified_recipient_is_accepted_with_the_header(
    postfix: Postfix, gateway: GatewayThread
) -> None:
    transcript = postfix.send("j.smith@wessex.gov.uk")
    assert "250 2.0.0 Ok: queued as" in transcript, transcript + postfix.log()
    message = postfix.queued(transcript)
    assert "X-Clearance: max=OFFICIAL-SENSITIVE; trust=accredited; policy=uk-gsc" in message
    assert "Subject: OFFICIAL-SENSITIVE: referral" in message


def test_an_unverified_recipient_is_rejected_for_our_own_mail(
    postfix: Postfix, gateway: GatewayThread
) -> None:
    transcript = postfix.send("info@melchesterfoodbank.org.uk")
    assert re.search(r"550 5\.7\.1 .*recipient\.not-verified", transcript), transcript
    assert "queued as" not in transcript


def test_other_senders_are_only_tagged(postfix: Postfix, gateway: GatewayThread) -> None:
    transcript = postfix.send("info@melchesterfoodbank.org.uk", sender="someone@example.org")
    assert "queued as" in transcript, transcript + postfix.log()
    assert "X-Clearance: max=none; trust=none; policy=uk-gsc" in postfix.queued(transcript)


def test_a_broken_store_defers(
    postfix: Postfix, gateway: GatewayThread, directory: Directory
) -> None:
    with sqlite3.connect(directory.settings.home / "clearance.db") as db:
        db.execute("ALTER TABLE recipients RENAME TO recipients_gone")
    transcript = postfix.send("j.smith@wessex.gov.uk")
    assert re.search(r"451 4\.3\.0 .*Clearance: the directory cannot answer now", transcript), (
        transcript
    )
    assert "queued as" not in transcript


def test_an_unreachable_policy_service_defers(postfix: Postfix, gateway: GatewayThread) -> None:
    gateway.stop()
    transcript = postfix.send("j.smith@wessex.gov.uk")
    assert re.search(r"451 4\.3\.5 .*Server configuration problem", transcript), transcript
    assert "queued as" not in transcript


def postmap(postfix: Postfix, key: str, table: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["postmap", "-c", str(postfix.conf), "-q", key, table],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_postmap_queries_the_tls_policy_map(postfix: Postfix, gateway: GatewayThread) -> None:
    table = f"socketmap:inet:127.0.0.1:{postfix.socketmap_port}:tlspolicy"
    assert postmap(postfix, "wessex.gov.uk", table).stdout.strip() == "secure"
    assert postmap(postfix, "casterbridge.gov.uk", table).stdout.strip() == "dane-only"
    missing = postmap(postfix, "example.org", table)
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "")


def test_postmap_queries_the_recipient_map(postfix: Postfix, gateway: GatewayThread) -> None:
    table = f"socketmap:inet:127.0.0.1:{postfix.socketmap_port}:recipient"
    assert postmap(postfix, "j.smith@wessex.gov.uk", table).stdout.strip() == "OK"
    missing = postmap(postfix, "info@melchesterfoodbank.org.uk", table)
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "")


def test_postmap_sees_temp_when_the_gateway_is_down(
    postfix: Postfix, gateway: GatewayThread
) -> None:
    gateway.stop()
    table = f"socketmap:inet:127.0.0.1:{postfix.socketmap_port}:tlspolicy"
    failed = postmap(postfix, "wessex.gov.uk", table)
    # An error (postmap exits 1 with a fatal message), never "found" nor a silent "not found".
    assert failed.returncode != 0 and failed.stdout == "", failed
    assert "fatal" in failed.stderr, failed


def test_relay_recipient_maps_refuse_unverified_recipients_of_relay_domains(
    relaying_postfix: Postfix, directory: Directory
) -> None:
    demo.seed(directory)
    pf = relaying_postfix
    with GatewayThread(directory, pf.policy_port, pf.socketmap_port):
        verified = pf.send("j.smith@wessex.gov.uk", sender="someone@example.org")
        excluded = pf.send("noreply@wessex.gov.uk", sender="someone@example.org")
        elsewhere = pf.send("info@melchesterfoodbank.org.uk", sender="someone@example.org")
    assert "queued as" in verified, verified + pf.log()
    # tag mode never rejects: the refusal is the recipient map's, for a relay domain only
    assert re.search(r"550 5\.1\.1 .*relay recipient table", excluded), excluded
    assert "queued as" in elsewhere, elsewhere + pf.log()
