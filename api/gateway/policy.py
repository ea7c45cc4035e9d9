"""The Postfix policy delegation server (check_policy_service inet:HOST:PORT).

Per connection, requests are answered in order, one at a time (Postfix sends one and waits).
At RCPT the recipient is looked up and the mode for the envelope sender decides the action
(api/gateway/smtp.py); any other protocol state gets DUNNO: the decision is per recipient.
"""

from __future__ import annotations

from api.gateway import smtp
from api.gateway.connection import Connections, QueuedConnection
from api.gateway.resolver import Resolver, Result
from api.gateway.rules import GatewayRules
from api.gateway.wire import PolicyReader, ProtocolError, policy_reply


class PolicyProtocol(QueuedConnection[dict[str, str]]):
    reader: PolicyReader

    def __init__(
        self,
        resolver: Resolver,
        rules: GatewayRules,
        connections: Connections,
    ) -> None:
        super().__init__(connections)
        self.resolver = resolver
        self.rules = rules
        self.reader = PolicyReader()

    def data_received(self, data: bytes) -> None:
        try:
            requests = self.reader.feed(data)
        except ProtocolError:
            if self.transport is not None:
                self.transport.close()
            return
        self.received(requests)

    def _handle(self, attributes: dict[str, str]) -> None:
        request = attributes.get("request")
        if request != "smtpd_access_policy":
            self._reply(smtp.unsupported_action(repr(request)[:40]))
            return
        if attributes.get("protocol_state", "").upper() != "RCPT":
            self._reply(smtp.DUNNO)
            return
        mode, minimum = self.rules.for_sender(attributes.get("sender", ""))
        recipient = attributes.get("recipient", "")

        def done(result: Result) -> None:
            self.busy = False
            self._reply(smtp.policy_action(result, mode, minimum, self.rules))
            self._next()

        self.busy = True
        self.resolver.recipient(recipient, done)

    def _reply(self, action: str) -> None:
        self.write(policy_reply(action))
