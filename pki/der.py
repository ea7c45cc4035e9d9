"""A minimal DER encoder, only what hand-built CRLs need (cryptography's CRL builder copies its
entry list on every addition, so 100,000 entries take ~16 s; encoding them here takes well under
one second)."""

from __future__ import annotations

from datetime import UTC, datetime


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("negative integers are not needed here")
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return tlv(0x02, body)


def enumerated(value: int) -> bytes:
    return tlv(0x0A, integer(value)[2:])


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def bit_string(value: bytes) -> bytes:
    return tlv(0x03, b"\x00" + value)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray()
    for arc in [parts[0] * 40 + parts[1], *parts[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def time(value: datetime) -> bytes:
    """UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5), whole seconds."""
    value = value.astimezone(UTC)
    if 1950 <= value.year < 2050:
        return tlv(0x17, value.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, value.strftime("%Y%m%d%H%M%SZ").encode())


def explicit(tag_number: int, content: bytes) -> bytes:
    return tlv(0xA0 | tag_number, content)


def extension(dotted: str, value: bytes, critical: bool = False) -> bytes:
    if critical:
        return sequence(oid(dotted), b"\x01\x01\xff", octet_string(value))
    return sequence(oid(dotted), octet_string(value))
