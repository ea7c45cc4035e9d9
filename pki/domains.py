"""Public domain names, judged the way pkilint judges them (the Public Suffix List, unknown
suffixes refused): an IP address, `localhost` or a name under an unlisted suffix (.test,
.example, .local, .internal ...) is an "internal name" that the S/MIME BR forbid in email
addresses and in CRL/AIA URLs."""

from __future__ import annotations

import functools
import ipaddress

import publicsuffixlist


@functools.cache
def _psl() -> publicsuffixlist.PublicSuffixList:
    return publicsuffixlist.PublicSuffixList(accept_unknown=False)


def is_public_hostname(host: str) -> bool:
    """True when `host` is a domain name under a public suffix (not an IP address)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return False
    return _psl().publicsuffix(host.lower()) is not None
