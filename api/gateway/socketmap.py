"""The socketmap server (socketmap:inet:HOST:PORT:<map>) with two maps.

- `tlspolicy` (smtp_tls_policy_maps): a destination domain -> `secure`, `dane-only` or `encrypt`
  when the directory's policy requires protected transport for that domain's recipients at the
  configured classification; NOTFOUND otherwise. Answered from the register snapshot.
- `recipient` (relay_recipient_maps, check_recipient_access): an address -> `OK` when it is a
  verified recipient (some classification is permitted to it); NOTFOUND otherwise.
When the directory cannot answer in time the reply is TEMP: Postfix defers, never guesses.
"""

from __future__ import annotations

import logging

from api.gateway import smtp
from api.gateway.connection import Connections, QueuedConnection
from api.gateway.resolver import Resolver, Result
from api.gateway.rules import GatewayRules
from api.gateway.wire import NetstringReader, ProtocolError, netstring, split_request
from directory.errors import DirectoryError

TLS_POLICY, RECIPIENT = "tlspolicy", "recipient"
log = logging.getLogger(__name__)


class SocketmapProtocol(QueuedConnection[bytes]):
    reader: NetstringReader

    def __init__(
        self,
        resolver: Resolver,
        rules: GatewayRules,
        connections: Connections,
    ) -> None:
        super().__init__(connections)
        self.resolver = resolver
        self.rules = rules
        self.reader = NetstringReader()

    def data_received(self, data: bytes) -> None:
        try:
            requests = self.reader.feed(data)
        except ProtocolError as exc:
            self._refuse(exc)
            return
        self.received(requests)

    def _refuse(self, exc: ProtocolError) -> None:
        if self.transport is not None:
            self.transport.write(netstring(smtp.map_refused(exc)))
            self.transport.close()

    def _handle(self, payload: bytes) -> None:
        try:
            name, key = split_request(payload)
        except ProtocolError as exc:
            self._refuse(exc)
            return
        if name == TLS_POLICY:
            try:
                value = self.resolver.tls_policy(key)
            except DirectoryError as exc:
                self._reply(smtp.map_error(exc))
                return
            except Exception as exc:  # a fault of ours: Postfix defers (TEMP), logged once here
                log.exception("tlspolicy lookup of %r failed", key[:254])
                self._reply(smtp.map_error(exc))
                return
            self._reply(smtp.map_found(value) if value else smtp.NOT_FOUND)
        elif name == RECIPIENT:
            self.busy = True
            self.resolver.recipient(key, self._recipient_done)
        else:
            self._reply(smtp.map_unknown(name))

    def _recipient_done(self, result: Result) -> None:
        self.busy = False
        self._reply(smtp.recipient_map_reply(result, self.rules))
        self._next()

    def _reply(self, text: str) -> None:
        self.write(netstring(text))
