"""Fetching a peer's trust list over HTTPS: Bearer API key, timeouts, TLS verification on,
no redirects, the body bounded while it streams in."""

from __future__ import annotations

import httpx

from directory.errors import DirectoryError, ErrorKind, malformed
from directory.federation.importer import MAX_LIST_BYTES


def fetch_list(url: str, api_key: str | None, timeout: float) -> bytes:
    headers = {"Accept": "application/json"}
    if api_key:
        if any(c in api_key for c in "\r\n") or len(api_key) > 1000:
            raise malformed("the API key file holds more than one key", field="api_key")
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        with (
            httpx.Client(timeout=timeout, verify=True, follow_redirects=False) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise DirectoryError(
                    ErrorKind.UNAVAILABLE,
                    f"the peer's trust list at {url} answered HTTP {response.status_code}",
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_LIST_BYTES:
                    raise malformed(f"the trust list at {url} is larger than {MAX_LIST_BYTES}")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise DirectoryError(
            ErrorKind.UNAVAILABLE, f"cannot fetch the trust list at {url} ({type(exc).__name__})"
        ) from None
