"""Minimal policy and socketmap clients speaking the wire formats as Postfix does."""

from __future__ import annotations

import asyncio

from api.gateway.wire import netstring


class PolicyClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> PolicyClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def ask(self, recipient: str, sender: str = "clerk@wessex.gov.uk", **extra: str) -> str:
        attributes = {
            "request": "smtpd_access_policy",
            "protocol_state": "RCPT",
            "sender": sender,
            "recipient": recipient,
            **extra,
        }
        block = "".join(f"{k}={v}\n" for k, v in attributes.items()) + "\n"
        self.writer.write(block.encode())
        reply = await self.reader.readuntil(b"\n\n")
        text = reply.decode()
        assert text.startswith("action=")
        return text[len("action=") : -2]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


class SocketmapClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> SocketmapClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def raw(self, data: bytes) -> str:
        self.writer.write(data)
        length = int((await self.reader.readuntil(b":"))[:-1])
        payload = await self.reader.readexactly(length + 1)
        assert payload.endswith(b",")
        return payload[:-1].decode()

    async def ask(self, name: str, key: str) -> str:
        return await self.raw(netstring(f"{name} {key}"))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
