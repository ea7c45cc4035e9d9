"""Address normalisation (DESIGN.md, "The lookup", step 1): properties and malformed inputs."""

from __future__ import annotations

import unicodedata

import idna
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from directory.address import (
    MAX_ADDRESS,
    MAX_DOMAIN,
    MAX_LOCAL,
    Address,
    normalise,
    normalise_any,
    normalise_domain,
)
from directory.errors import DirectoryError, ErrorKind

PROPERTY = settings(database=None, deadline=None, max_examples=150)

# --- strategies -----------------------------------------------------------------------------
ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
LDH = "abcdefghijklmnopqrstuvwxyz0123456789-"
ACCENTED = "éèêëàâäôöùûüçñåøæÉÈÀÄÖÜÇÑÅØÆ"

atoms = st.text(alphabet=ATEXT, min_size=1, max_size=12)
ascii_locals = st.lists(atoms, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s) <= 64)
ldh_labels = (
    st.text(alphabet=LDH, min_size=1, max_size=20)
    .filter(lambda s: not s.startswith("-") and not s.endswith("-"))
    .filter(lambda s: s[2:4] != "--")  # reserved for A-labels and the like
)
tlds = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6)
ascii_domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(ldh_labels, min_size=1, max_size=3), tlds
)
unicode_labels = st.text(alphabet=ACCENTED + "abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=15)
unicode_locals = st.text(alphabet=ACCENTED + "abcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=20)


def _unicode_domain(labels: list[str], tld: str) -> str:
    return ".".join([*labels, tld])


unicode_domains = st.builds(_unicode_domain, st.lists(unicode_labels, min_size=1, max_size=3), tlds)
# Anything at all, around an "@": most of it is malformed, which is the point.
wild = st.builds(
    lambda a, b: f"{a}@{b}",
    st.one_of(ascii_locals, unicode_locals, st.text(min_size=1, max_size=20)),
    st.one_of(ascii_domains, unicode_domains, st.text(min_size=1, max_size=30)),
)


def _accepts(raw: str) -> Address | None:
    try:
        return normalise(raw)
    except DirectoryError as exc:
        assert exc.kind is ErrorKind.MALFORMED  # never anything but a client error
        return None


def _general(raw: str) -> Address | None:
    try:
        return normalise_any(raw)
    except DirectoryError:
        return None


# --- properties -----------------------------------------------------------------------------
@PROPERTY
@given(
    st.one_of(
        wild,
        st.builds(
            lambda a, d, t: f"{a}@{d}{t}",
            ascii_locals,
            ascii_domains,
            st.sampled_from(["", ".", "..", " ", "-"]),
        ),
    )
)
def test_the_plain_ascii_shortcut_answers_as_the_general_path(raw: str) -> None:
    """`normalise` takes plain ASCII addresses without the general path: same result, same
    refusals, for anything at all."""
    assert _accepts(raw) == _general(raw)
    assert _accepts(raw.upper()) == _general(raw.upper())


def test_the_shortcut_still_refuses_what_the_general_path_refuses() -> None:
    for raw in (
        "a@-x.gov.uk",
        "a@x-.gov.uk",
        "a@x.123",
        "a@localhost",
        "a@x..uk",
        f"{'a' * 65}@x.gov.uk",
        f"a@{'b' * 64}.gov.uk",
        f"a@{'b.' * 126}uk",
    ):
        assert _accepts(raw) is None, raw
        assert _general(raw) is None, raw


@PROPERTY
@given(wild)
def test_normalise_is_idempotent(raw: str) -> None:
    first = _accepts(raw)
    assume(first is not None)
    assert first is not None
    assert normalise(first.text) == first


@PROPERTY
@given(wild)
def test_accepted_output_is_canonical(raw: str) -> None:
    """What the code guarantees: A-label lower-case ASCII domain without a trailing dot, NFC
    lower-case local part of at most 64 octets, domain of at most 253 characters."""
    found = _accepts(raw)
    assume(found is not None)
    assert found is not None
    assert found.domain.isascii()
    assert found.domain == found.domain.lower()
    assert not found.domain.endswith(".")
    assert len(found.domain) <= MAX_DOMAIN
    assert "." in found.domain
    assert found.local == found.local.lower()
    assert unicodedata.is_normalized("NFC", found.local)
    assert len(found.local.encode("utf-8")) <= MAX_LOCAL


@PROPERTY
@given(ascii_locals, ascii_domains)
def test_case_of_local_part_and_domain_does_not_matter(local: str, domain: str) -> None:
    base = normalise(f"{local}@{domain}")
    assert normalise(f"{local.upper()}@{domain.upper()}") == base
    assert normalise(f"{local.lower()}@{domain.lower()}") == base
    assert normalise(f"{local.swapcase()}@{domain.swapcase()}") == base
    assert base.text == f"{local.lower()}@{domain.lower()}"


@PROPERTY
@given(unicode_locals, unicode_domains)
def test_unicode_case_does_not_matter(local: str, domain: str) -> None:
    lower = _accepts(f"{local.lower()}@{domain.lower()}")
    assume(lower is not None)
    assert normalise(f"{local.upper()}@{domain.upper()}") == lower


@PROPERTY
@given(unicode_locals, unicode_domains)
def test_composed_and_decomposed_forms_are_the_same_address(local: str, domain: str) -> None:
    composed = unicodedata.normalize("NFC", f"{local}@{domain}")
    decomposed = unicodedata.normalize("NFD", composed)
    found = _accepts(composed)
    assume(found is not None)
    if any(unicodedata.decomposition(ch) for ch in composed):
        assert decomposed != composed  # the property is not vacuous
    assert normalise(decomposed) == found


@PROPERTY
@given(ascii_locals, unicode_domains)
def test_u_label_and_a_label_are_the_same_domain(local: str, domain: str) -> None:
    try:
        a_label = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        assume(False)
        raise
    found = normalise(f"{local}@{domain}")
    assert normalise(f"{local}@{a_label}") == found
    assert normalise(f"{local}@{a_label.upper()}") == found
    assert found.domain == a_label.lower()


@PROPERTY
@given(ascii_locals, st.one_of(ascii_domains, unicode_domains))
def test_trailing_dot_is_dropped(local: str, domain: str) -> None:
    found = _accepts(f"{local}@{domain}")
    assume(found is not None)
    assert normalise(f"{local}@{domain}.") == found


def test_examples_of_the_canonical_form() -> None:
    assert normalise("J.Smith@Council.GOV.UK") == Address("j.smith", "council.gov.uk")
    assert normalise("x@Bücher.Example.") == Address("x", "xn--bcher-kva.example")
    assert normalise("x@XN--BCHER-KVA.example") == Address("x", "xn--bcher-kva.example")
    assert normalise("Élodie@x.fr") == normalise("e\u0301lodie@x.fr")
    assert normalise("Élodie@x.fr").local == "élodie"
    # A needlessly quoted local part means the same as the plain one; a needed quote is kept.
    assert normalise('"John.Smith"@x.org') == Address("john.smith", "x.org")
    assert normalise('"A B"@x.org') == Address('"a b"', "x.org")
    assert normalise('"a\\ b"@x.org') == Address('"a b"', "x.org")


def test_longest_accepted_parts() -> None:
    local = "a" * MAX_LOCAL
    assert normalise(f"{local}@example.org").local == local
    domain = ".".join(["b" * 63, "c" * 63, "d" * 63, "e" * 58, "uk"])
    assert len(domain) == MAX_DOMAIN
    assert normalise_domain(domain) == domain
    # A whole mailbox is at most 254 octets (RFC 5321 path less the angle brackets).
    shorter = domain.replace("e" * 58, "e" * 57)
    assert len(f"x@{shorter}") == MAX_ADDRESS
    assert normalise(f"x@{shorter}").domain == shorter


def test_an_address_longer_than_254_characters_is_malformed() -> None:
    domain = ".".join(["b" * 63, "c" * 63, "d" * 63, "e" * 58, "uk"])
    raw = f"{'a' * MAX_LOCAL}@{domain}"
    assert len(raw) > MAX_ADDRESS
    with pytest.raises(DirectoryError) as caught:
        normalise(raw)
    assert caught.value.kind is ErrorKind.MALFORMED


# --- malformed inputs -----------------------------------------------------------------------
MALFORMED = {
    "empty": "",
    "no at sign": "j.smith.council.gov.uk",
    "empty local part": "@council.gov.uk",
    "empty domain": "j.smith@",
    "space in local part": "j smith@council.gov.uk",
    "space in domain": "j.smith@council .gov.uk",
    "NUL": "j\x00smith@council.gov.uk",
    "tab inside": "j\tsmith@council.gov.uk",
    "newline inside": "j.smith@council\n.gov.uk",
    "DEL": "j\x7fsmith@council.gov.uk",
    "zero-width space": "j\u200bsmith@council.gov.uk",
    "no-break space": "j\u00a0smith@council.gov.uk",
    "line separator": "j\u2028smith@council.gov.uk",
    "local part of 65 octets": "a" * 65 + "@council.gov.uk",
    "local part of 33 two-octet characters": "é" * 33 + "@council.gov.uk",
    "domain over 253": "x@" + ".".join(["a" * 63] * 4) + ".uk",
    "label over 63": "x@" + "a" * 64 + ".gov.uk",
    "underscore in domain": "x@coun_cil.gov.uk",
    "IPv4 literal": "x@[192.0.2.1]",
    "IPv6 literal": "x@[IPv6:2001:db8::1]",
    "bare IPv4": "x@192.0.2.1",
    "numeric TLD": "x@council.123",
    "single label": "x@localhost",
    "consecutive dots in local": "j..smith@council.gov.uk",
    "leading dot in local": ".j@council.gov.uk",
    "trailing dot in local": "j.@council.gov.uk",
    "consecutive dots in domain": "x@council..gov.uk",
    "leading dot in domain": "x@.council.gov.uk",
    "two trailing dots": "x@council.gov.uk..",
    "leading hyphen": "x@-council.gov.uk",
    "trailing hyphen": "x@council-.gov.uk",
    "bad punycode": "x@xn--zz.gov.uk",
    "two at signs": "a@b@council.gov.uk",
    "unterminated quote": '"j.smith@council.gov.uk',
    "angle brackets": "<j.smith@council.gov.uk>",
    "display name": "Jo Smith <j.smith@council.gov.uk>",
    "comma": "a,b@council.gov.uk",
    "non-ASCII in quoted local": '"é b"@council.gov.uk',
}


@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_addresses_are_client_errors(raw: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        normalise(raw)
    assert caught.value.kind is ErrorKind.MALFORMED
    assert caught.value.extra.get("field") == "address"


@pytest.mark.parametrize("value", [None, 42, b"x@example.org"])
def test_a_non_string_is_malformed(value: object) -> None:
    with pytest.raises(DirectoryError) as caught:
        normalise(value)  # type: ignore[arg-type]
    assert caught.value.kind is ErrorKind.MALFORMED


def test_the_error_detail_does_not_echo_a_huge_input() -> None:
    raw = "x" * 300 + "@" + "y" * 300
    with pytest.raises(DirectoryError) as caught:
        normalise(raw)
    assert len(caught.value.detail) < 200


def test_very_long_input_is_refused_before_parsing() -> None:
    with pytest.raises(DirectoryError) as caught:
        normalise("a@" + "b." * 1000 + "uk")
    assert caught.value.kind is ErrorKind.MALFORMED


# --- sub-addressing -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("local", "separator", "expected"),
    [
        ("j.smith+casework", "+", "j.smith"),
        ("j.smith+a+b", "+", "j.smith"),
        ("j.smith+", "+", "j.smith"),
        ("j.smith-casework", "-", "j.smith"),
        ("j.smith+casework", "-", "j.smith+casework"),
        ("j.smith+casework", None, "j.smith+casework"),
        ("j.smith+casework", "", "j.smith+casework"),
        ("+casework", "+", "+casework"),  # nothing before the separator: not a sub-address
        ("j.smith", "+", "j.smith"),
        ('"j+smith"', "+", '"j+smith"'),  # a quoted local part is never split
    ],
)
def test_without_subaddress(local: str, separator: str | None, expected: str) -> None:
    addr = Address(local, "council.gov.uk")
    stripped = addr.without_subaddress(separator)
    assert stripped == Address(expected, "council.gov.uk")
    assert stripped.domain == addr.domain


def test_without_subaddress_after_normalise() -> None:
    addr = normalise("J.Smith+Casework@Council.gov.uk")
    assert addr.without_subaddress("+").text == "j.smith@council.gov.uk"
    assert addr.text == "j.smith+casework@council.gov.uk"
