"""The two wire formats Postfix speaks to the gateway, parsed strictly and bounded.

- Policy delegation (SMTPD_POLICY_README): `name=value` lines, an empty line ends a request;
  the reply is `action=...` and an empty line. One connection carries many requests.
- Socketmap (socketmap_table(5)): netstrings `<length>:<bytes>,`; the request is `<map> <key>`,
  the reply `OK <data>`, `NOTFOUND `, `TEMP <reason>`, `TIMEOUT <reason>` or `PERM <reason>`.

Malformed or oversized input raises ProtocolError; the server then drops the connection (the
client is not Postfix, or is confused), which Postfix treats as a temporary failure.
"""

from __future__ import annotations

import re

MAX_POLICY_REQUEST = 16 * 1024  # Postfix's requests are a few hundred bytes
MAX_ATTRIBUTES = 100
MAX_NETSTRING = 4096  # "<map> <key>"; keys are domains and addresses
_LENGTH_DIGITS = len(str(MAX_NETSTRING))


class ProtocolError(ValueError):
    """The peer did not speak the protocol (malformed or oversized input)."""


_ATTRIBUTE = re.compile(r"^([A-Za-z0-9_]+)=(.*)$", re.MULTILINE)


def parse_attributes(block: bytes) -> dict[str, str]:
    """One policy request (without its terminating empty line) as a dict of attributes."""
    if len(block) > MAX_POLICY_REQUEST:
        raise ProtocolError("policy request too long")
    try:
        text = block.decode("utf-8").strip("\n")
    except UnicodeDecodeError:
        raise ProtocolError("policy request is not UTF-8") from None
    if not text:
        raise ProtocolError("empty policy request")
    pairs = _ATTRIBUTE.findall(text)
    if len(pairs) != text.count("\n") + 1:  # every line must be name=value
        bad = next(line for line in text.split("\n") if not _ATTRIBUTE.fullmatch(line))
        raise ProtocolError(f"not a name=value line: {bad[:60]!r}")
    if len(pairs) > MAX_ATTRIBUTES:
        raise ProtocolError("too many attributes")
    return dict(pairs)


class PolicyReader:
    """Splits a byte stream into policy requests, in time linear in the input: requests are
    found by an offset into the data, and the unfinished tail (at most one request) is kept
    once per read."""

    def __init__(self) -> None:
        self._buffer = b""

    @property
    def pending(self) -> int:
        """Bytes of a request begun but not finished."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[dict[str, str]]:
        buffer = self._buffer + data if self._buffer else data
        requests: list[dict[str, str]] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            requests.append(parse_attributes(buffer[start:end]))
            start = end + 2
        self._buffer = buffer[start:] if start else buffer
        if len(self._buffer) > MAX_POLICY_REQUEST:
            raise ProtocolError("policy request too long")
        return requests


_REPLIES: dict[str, bytes] = {}  # the few distinct actions, encoded once


def policy_reply(action: str) -> bytes:
    try:
        return _REPLIES[action]
    except KeyError:
        pass
    reply = f"action={action}\n\n".encode()
    if len(_REPLIES) < 4096:
        _REPLIES[action] = reply
    return reply


_NETSTRINGS: dict[str, bytes] = {}


def netstring(payload: str) -> bytes:
    try:
        return _NETSTRINGS[payload]
    except KeyError:
        pass
    data = payload.encode("utf-8")
    reply = b"%d:%s," % (len(data), data)
    if len(_NETSTRINGS) < 4096:
        _NETSTRINGS[payload] = reply
    return reply


class NetstringReader:
    """Splits a byte stream into netstrings, refusing anything malformed or too long; linear in
    the input (an offset into the data; the unfinished tail, at most one netstring, is kept
    once per read)."""

    def __init__(self, limit: int = MAX_NETSTRING) -> None:
        self._buffer = b""
        self.limit = limit

    @property
    def pending(self) -> int:
        """Bytes of a netstring begun but not finished."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        start, size = 0, len(buffer)
        while start < size:
            colon = buffer.find(b":", start, start + _LENGTH_DIGITS + 1)
            if colon < 0:
                head = buffer[start:]
                if len(head) > _LENGTH_DIGITS or not head.isdigit():
                    raise ProtocolError("netstring length is missing or too long")
                break
            digits = buffer[start:colon]
            if not digits.isdigit() or (len(digits) > 1 and digits[0] == 0x30):
                raise ProtocolError("netstring length is not a decimal number")
            length = int(digits)
            if length > self.limit:
                raise ProtocolError(f"netstring longer than {self.limit} bytes")
            end = colon + 1 + length
            if size <= end:
                break
            if buffer[end] != 0x2C:  # ","
                raise ProtocolError("netstring does not end with a comma")
            out.append(buffer[colon + 1 : end])
            start = end + 1
        self._buffer = buffer[start:] if start else buffer
        return out


def split_request(payload: bytes) -> tuple[str, str]:
    """`<map> <key>` of a socketmap request."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("socketmap request is not UTF-8") from None
    name, space, key = text.partition(" ")
    if not space or not name or not key:
        raise ProtocolError("socketmap request is not '<map> <key>'")
    return name, key
