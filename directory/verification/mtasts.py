"""Fetch an MTA-STS policy (RFC 8461 3.3): https://mta-sts.<domain>/.well-known/mta-sts.txt.

The host name is resolved through our DNS client (so the configured resolver decides where we
connect), the certificate is validated for mta-sts.<domain> against the configured CA bundle (or
the system's), redirects are not followed, and the body is cut off at 64 KiB.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass

import httpx

from directory.verification.resolver import DnsClient

MAX_POLICY_BYTES = 64 * 1024


class PolicyFetchError(Exception):
    """The policy could not be had: definite (bad certificate, status, size) unless temporary."""

    def __init__(self, why: str, *, temporary: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.temporary = temporary


@dataclass(frozen=True)
class Fetched:
    url: str
    address: str
    content_type: str
    text: str


def tls_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class PolicyFetcher:
    def __init__(self, client: DnsClient, context: ssl.SSLContext, port: int, timeout: float):
        self.dns = client
        self.context = context
        self.port = port
        self.timeout = timeout

    async def fetch(self, domain: str) -> Fetched:
        host = f"mta-sts.{domain}"
        address = await self._address(host)
        literal = f"[{address}]" if ":" in address else address
        url = f"https://{host}:{self.port}/.well-known/mta-sts.txt"
        target = f"https://{literal}:{self.port}/.well-known/mta-sts.txt"
        try:
            async with (
                httpx.AsyncClient(
                    verify=self.context,
                    follow_redirects=False,
                    timeout=self.timeout,
                    trust_env=False,
                ) as http,
                http.stream(
                    "GET",
                    target,
                    headers={"Host": host, "Accept": "text/plain"},
                    extensions={"sni_hostname": host},
                ) as response,
            ):
                if response.status_code != 200:
                    raise PolicyFetchError(f"{url} answered HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_POLICY_BYTES:
                        raise PolicyFetchError(f"{url} is larger than 64 KiB")
                content_type = response.headers.get("content-type", "")
        except httpx.TimeoutException as exc:
            raise PolicyFetchError(f"{url}: timed out ({exc})", temporary=True) from None
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, ssl.SSLError) or "CERTIFICATE" in str(exc).upper():
                raise PolicyFetchError(f"{url}: TLS failed: {exc}") from None
            raise PolicyFetchError(f"{url}: cannot connect: {exc}", temporary=True) from None
        except httpx.HTTPError as exc:
            raise PolicyFetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyFetchError(f"{url} is not UTF-8 text") from None
        return Fetched(url, address, content_type, text)

    async def _address(self, host: str) -> str:
        for rdtype in ("A", "AAAA"):
            found = await self.dns.records(host, rdtype, signatures=False)
            if found.rrset is not None and len(found.rrset):
                address = found.rrset[0].address
                ipaddress.ip_address(address)
                return str(address)
        raise PolicyFetchError(f"{host} has no address record")
