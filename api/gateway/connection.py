"""What the policy and socketmap servers share: a tracked connection answering queued requests
in order, one at a time (Postfix sends one request and waits for its answer)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar, cast

Request = TypeVar("Request")


class QueuedConnection(asyncio.Protocol, Generic[Request]):
    def __init__(self, connections: set[asyncio.Transport] | None = None) -> None:
        self.connections = connections if connections is not None else set()
        self.transport: asyncio.Transport | None = None
        self.queued: deque[Request] = deque()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.connections.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.connections.discard(self.transport)
        self.transport = None
        self.queued.clear()
