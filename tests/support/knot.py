"""A real Knot DNS server for tests and benchmarks: 127.0.0.1 on a free port, a YAML config in a
temporary directory, zones signed by Knot itself (automatic ECDSA P-256 policy), RFC 2136 dynamic
updates accepted with a TSIG key. No root privileges needed beyond what the process has."""

from __future__ import annotations

import base64
import secrets
import subprocess
import time
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

KEY_NAME = "clearance-test-update"


class KnotServer:
    def __init__(self, knotd: str, directory: Path, port: int) -> None:
        self.knotd = knotd
        self.directory = directory
        self.port = port
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.keyring = dns.tsigkeyring.from_text({KEY_NAME: self.secret})
        self.zones: dict[str, bool] = {}  # name -> signed
        self.broken: set[str] = set()  # zones that fail to load: Knot answers SERVFAIL
        self.process: subprocess.Popen[bytes] | None = None

    def add_zone(self, name: str, body: str, *, signed: bool = False, broken: bool = False) -> None:
        """A zone from record lines (owner names relative to the zone); SOA and NS are added."""
        zones = self.directory / "zones"
        zones.mkdir(parents=True, exist_ok=True)
        head = (
            f"$ORIGIN {name}.\n$TTL 300\n"
            f"@ SOA ns.{name}. hostmaster.{name}. 1 3600 600 86400 300\n@ NS ns.{name}.\n"
            f"ns A 127.0.0.1\n"
        )
        (zones / f"{name}.zone").write_text(body if broken else head + body)
        self.zones[name] = signed
        if broken:
            self.broken.add(name)

    def config(self) -> str:
        d = self.directory
        lines = [
            "server:",
            f'    rundir: "{d}/run"',
            f"    listen: 127.0.0.1@{self.port}",
            "    udp-workers: 2",
            "    tcp-workers: 2",
            "    background-workers: 2",
            "log:",
            "  - target: stderr",
            "    any: warning",
            "database:",
            f'    storage: "{d}/db"',
            "key:",
            f"  - id: {KEY_NAME}",
            "    algorithm: hmac-sha256",
            f"    secret: {self.secret}",
            "acl:",
            "  - id: update",
            "    address: 127.0.0.1",
            f"    key: {KEY_NAME}",
            "    action: update",
            "policy:",
            "  - id: test",
            "    algorithm: ecdsap256sha256",
            "    ksk-lifetime: 0",
            "    zsk-lifetime: 0",
            "template:",
            "  - id: default",
            f'    storage: "{d}/zones"',
            '    file: "%s.zone"',
            "    acl: update",
            "    zonefile-sync: -1",
            "    zonefile-load: difference-no-serial",
            "    journal-content: all",
            "zone:",
        ]
        for name, signed in self.zones.items():
            lines.append(f"  - domain: {name}")
            if signed:
                lines += ["    dnssec-signing: on", "    dnssec-policy: test"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 30.0) -> None:
        for sub in ("run", "db"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        conf = self.directory / "knot.conf"
        conf.write_text(self.config())
        self.log = open(self.directory / "knotd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [self.knotd, "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        waiting = set(self.zones)
        while waiting:
            if self.process.poll() is not None:
                raise RuntimeError(f"knotd exited: {(self.directory / 'knotd.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"knotd did not serve {sorted(waiting)} in time")
            for name in list(waiting):
                if self._ready(name):
                    waiting.discard(name)
            time.sleep(0.05)

    def _ready(self, name: str) -> bool:
        rdtype = "DNSKEY" if self.zones[name] else "SOA"
        try:
            response = self.query(name, rdtype)
        except (OSError, dns.exception.DNSException):
            return False
        if name in self.broken:
            return response.rcode() == dns.rcode.SERVFAIL
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        message = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.udp(message, "127.0.0.1", port=self.port, timeout=2.0)

    def ds_records(self, name: str) -> list[str]:
        """DS lines (SHA-256) for the zone's key-signing keys, as trust anchors."""
        response = self.query(name, "DNSKEY")
        zone = dns.name.from_text(name)
        out = []
        for rrset in response.answer:
            if rrset.rdtype != dns.rdatatype.DNSKEY:
                continue
            for key in rrset:
                if key.flags & 0x0001:  # SEP: a key-signing key
                    ds = dns.dnssec.make_ds(zone, key, "SHA256")
                    out.append(f"{zone.to_text()} IN DS {ds.to_text()}")
        return out

    def update(self, zone: str, *changes: tuple[str, str, str, str]) -> None:
        """RFC 2136 update over TCP: (op, name, rdtype, data) with op "add", "replace" or
        "delete" (data "" deletes the whole RRset); names relative to the zone."""
        message = dns.update.UpdateMessage(zone, keyring=self.keyring, keyname=KEY_NAME)
        for op, name, rdtype, data in changes:
            if op == "add":
                message.add(name, 60, rdtype, data)
            elif op == "replace":
                message.replace(name, 60, rdtype, data)
            elif data:
                message.delete(name, rdtype, data)
            else:
                message.delete(name, rdtype)
        response = dns.query.tcp(message, "127.0.0.1", port=self.port, timeout=5.0)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"update of {zone} refused: {dns.rcode.to_text(response.rcode())}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()
