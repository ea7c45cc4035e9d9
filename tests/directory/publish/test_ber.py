"""The hand-written BER encoder produces exactly the bytes ldap3 (pyasn1) does for the same
request, for short and long lengths, every message id size and text and binary values."""

# ruff: noqa: I001  (directory.publish must be imported before ldap3: see its __init__)

from __future__ import annotations

from typing import Any

import pytest

from directory.publish import ber  # first: it imports ldap3 with pyasn1's warnings silenced

# ldap3's own encoding, for comparison (imported after directory.publish, see above)
from ldap3 import MODIFY_REPLACE
from ldap3.operation.add import add_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.modify import modify_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.utils.asn1 import decoder, encode

MESSAGE_IDS = (1, 127, 128, 255, 256, 32767, 32768, 65536, 2**24, 2**31 - 1)
DN = 'clearanceAddress=\\"o*(t)\\\\\\,\\+\\"\\<\\>\\;\\=\\"@wessex.gov.uk,ou=recipients,dc=x'


def ldap3_bytes(message_id: int, kind: str, request: Any) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
    return bytes(encode(message))


ENTRY: dict[str, Any] = {
    "cn": ['Zoë Ångström *()\\,+"<>;='],
    "sn": "Ångström",  # one value, not in a list
    "mail": ["zoe@wessex.gov.uk"],
    "clearanceEntryDigest": "sha256:" + "ab" * 32,
    "clearanceExcludedLocalPart": ["noreply", "postmaster", "abuse"],
    "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
}


@pytest.mark.parametrize("message_id", MESSAGE_IDS)
def test_add_request_matches_ldap3(message_id: int) -> None:
    expected = ldap3_bytes(message_id, "addRequest", add_operation(DN, ENTRY, True))
    assert ber.add_request(message_id, DN, ENTRY) == expected


@pytest.mark.parametrize("size", [0, 1, 100, 127, 128, 255, 256, 65535, 65536, 300_000])
def test_binary_values_of_every_length_class_match_ldap3(size: int) -> None:
    value = bytes(range(256)) * (size // 256) + bytes(size % 256)
    entry: dict[str, Any] = {"userCertificate;binary": [value, b"\x00\xff"], "objectClass": ["top"]}
    expected = ldap3_bytes(7, "addRequest", add_operation("cn=c", entry, True))
    assert ber.add_request(7, "cn=c", entry) == expected


def test_replace_request_matches_ldap3_including_removal_by_no_values() -> None:
    values: dict[str, Any] = {
        "cn": ["a", "b"],
        "displayName": [],
        "userCertificate;binary": [b"\x01" * 300],
        "clearanceEntryDigest": "sha256:00",
    }
    changes = {
        name: [(MODIFY_REPLACE, v if isinstance(v, list) else [v])] for name, v in values.items()
    }
    for message_id in MESSAGE_IDS:
        expected = ldap3_bytes(message_id, "modifyRequest", modify_operation(DN, changes, True))
        assert ber.replace_request(message_id, DN, values) == expected


def test_delete_request_matches_ldap3() -> None:
    for dn in (DN, "cn=é,dc=x", "cn=" + "x" * 200 + ",dc=x"):
        expected = ldap3_bytes(9, "delRequest", delete_operation(dn))
        assert ber.delete_request(9, dn) == expected


def test_pyasn1_decodes_what_is_encoded() -> None:
    decoded, rest = decoder.decode(ber.add_request(42, DN, ENTRY), asn1Spec=LDAPMessage())
    assert rest == b""
    assert int(decoded["messageID"]) == 42
    request = decoded["protocolOp"].getComponent()
    assert str(request["entry"]) == DN
    names = [str(a["type"]) for a in request["attributes"]]
    assert names == list(ENTRY)
    assert bytes(request["attributes"][0]["vals"][0]).decode() == ENTRY["cn"][0]


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        ber.add_request(1, "cn=x", {"cn": []})
    with pytest.raises(TypeError, match="str or bytes"):
        ber.add_request(1, "cn=x", {"cn": [3]})  # type: ignore[list-item]
    for message_id in (0, -1, 2**31):
        with pytest.raises(ValueError, match="message id"):
            ber.add_request(message_id, "cn=x", {"cn": "x"})


def test_lengths_are_minimal_definite_forms() -> None:
    assert ber.length(0) == b"\x00"
    assert ber.length(127) == b"\x7f"
    assert ber.length(128) == b"\x81\x80"
    assert ber.length(256) == b"\x82\x01\x00"
    assert ber.length(2**24) == b"\x84\x01\x00\x00\x00"
