"""A real HTTPS server for MTA-STS policies (RFC 8461 3.3), on 127.0.0.1 and a free port.

Serves /.well-known/mta-sts.txt by Host header from `policies` (host -> Policy), which a test may
change while the server runs. Runs in a thread (tests) or as a process (`python -m`, benchmarks).
"""

from __future__ import annotations

import argparse
import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Policy:
    body: str
    status: int = 200
    content_type: str = "text/plain"
    location: str | None = None  # for redirects


class _Handler(BaseHTTPRequestHandler):
    server: PolicyServer

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        policy = self.server.policies.get(host)
        if self.path != "/.well-known/mta-sts.txt" or policy is None:
            self.send_error(404)
            return
        body = policy.body.encode()
        self.send_response(policy.status)
        self.send_header("Content-Type", policy.content_type)
        self.send_header("Content-Length", str(len(body)))
        if policy.location:
            self.send_header("Location", policy.location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class PolicyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cert_file: Path, key_file: Path, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        # The handshake runs in the request thread, not in the accept loop.
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self.policies: dict[str, Policy] = {}
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def main() -> None:
    """python -m tests.support.policy_server CERT KEY PORT POLICIES.json"""
    parser = argparse.ArgumentParser()
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("port", type=int)
    parser.add_argument("policies", help="JSON: host -> policy text")
    args = parser.parse_args()
    server = PolicyServer(Path(args.cert), Path(args.key), args.port)
    for host, body in json.loads(Path(args.policies).read_text()).items():
        server.policies[host] = Policy(body)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
