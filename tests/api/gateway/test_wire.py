"""The policy and socketmap wire formats: parsing, limits and malformed input."""

from __future__ import annotations

import pytest

from api.gateway.wire import (
    MAX_NETSTRING,
    MAX_POLICY_REQUEST,
    NetstringReader,
    PolicyReader,
    ProtocolError,
    netstring,
    parse_attributes,
    policy_reply,
    split_request,
)

# What Postfix 3.7 sends at RCPT time (SMTPD_POLICY_README, trimmed of empty attributes).
POSTFIX_RCPT = (
    b"request=smtpd_access_policy\n"
    b"protocol_state=RCPT\n"
    b"protocol_name=ESMTP\n"
    b"client_address=127.0.0.1\n"
    b"client_name=localhost\n"
    b"reverse_client_name=localhost\n"
    b"helo_name=sender.example\n"
    b"sender=clerk@wessex.gov.uk\n"
    b"recipient=j.smith@wessex.gov.uk\n"
    b"recipient_count=0\n"
    b"queue_id=\n"
    b"instance=2f1a.6560ab12.3c4d.0\n"
    b"size=0\n"
    b"etrn_domain=\n"
    b"stress=\n"
    b"sasl_method=\n"
    b"ccert_subject=\n"
    b"encryption_protocol=\n"
    b"policy_context=\n"
    b"server_address=127.0.0.1\n"
    b"server_port=2525\n"
    b"\n"
)


def test_a_postfix_request_parses_to_its_attributes() -> None:
    reader = PolicyReader()
    [request] = reader.feed(POSTFIX_RCPT)
    assert request["request"] == "smtpd_access_policy"
    assert request["recipient"] == "j.smith@wessex.gov.uk"
    assert request["queue_id"] == ""
    assert len(request) == 21


def test_requests_split_across_reads_and_reused_connections() -> None:
    reader = PolicyReader()
    stream = POSTFIX_RCPT * 3
    got = []
    for i in range(0, len(stream), 7):
        got.extend(reader.feed(stream[i : i + 7]))
    assert [r["recipient"] for r in got] == ["j.smith@wessex.gov.uk"] * 3


def test_values_may_contain_equals_signs() -> None:
    assert parse_attributes(b"request=x\nccert_subject=CN=a=b") == {
        "request": "x",
        "ccert_subject": "CN=a=b",
    }


@pytest.mark.parametrize(
    "block",
    [b"no equals sign here", b"=value", b"bad name=1", b"\xff\xfe=1", b"\n\n"],
)
def test_malformed_policy_requests_are_refused(block: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_attributes(block)


def test_an_oversized_policy_request_is_refused_before_its_end() -> None:
    reader = PolicyReader()
    with pytest.raises(ProtocolError):
        reader.feed(b"request=" + b"a" * (MAX_POLICY_REQUEST + 1))


def test_too_many_attributes_are_refused() -> None:
    block = b"\n".join(b"a%d=1" % i for i in range(101))
    with pytest.raises(ProtocolError):
        parse_attributes(block)


def test_policy_reply_format() -> None:
    assert policy_reply("DUNNO") == b"action=DUNNO\n\n"


def test_netstrings_round_trip_and_split_across_reads() -> None:
    data = netstring("tlspolicy example.gov.uk") + netstring("recipient a@b.example")
    assert data.startswith(b"24:tlspolicy example.gov.uk,")
    reader = NetstringReader()
    got = []
    for byte in range(len(data)):
        got.extend(reader.feed(data[byte : byte + 1]))
    assert got == [b"tlspolicy example.gov.uk", b"recipient a@b.example"]
    assert split_request(got[0]) == ("tlspolicy", "example.gov.uk")


def test_a_netstring_with_utf8_counts_bytes() -> None:
    assert netstring("OK é") == b"5:OK \xc3\xa9,"


@pytest.mark.parametrize(
    "data",
    [
        b"abc:hello,",  # not a length
        b"05:hello,",  # leading zero
        b"5:hello;",  # no comma
        b"5hello,",  # no colon within the length digits
        b"-1:,",
        b"99999999:",  # longer than the limit
        str(MAX_NETSTRING + 1).encode() + b":",
    ],
)
def test_malformed_netstrings_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        NetstringReader().feed(data)


def test_an_incomplete_netstring_waits_for_more() -> None:
    reader = NetstringReader()
    assert reader.feed(b"5:hel") == []
    assert reader.feed(b"lo,") == [b"hello"]


@pytest.mark.parametrize("payload", [b"tlspolicy", b" key", b"tlspolicy ", b"\xff x"])
def test_malformed_socketmap_requests_are_refused(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        split_request(payload)
