"""One LDAP connection (ldap3), with the few operations publishing and importing need.

Every failure becomes a `DirectoryError`: the server cannot be reached or refuses (unavailable),
the credentials or schema are wrong (config). Nothing is retried silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from ldap3 import (
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SUBTREE,
    Connection,
    Server,
)
from ldap3.core.exceptions import LDAPException
from ldap3.utils.asn1 import compute_ber_size, decode_message_fast, ldap_result_to_dict_fast

from directory.errors import DirectoryError, ErrorKind
from directory.publish import ber
from directory.settings import Settings

# OpenLDAP/AD "permissive modify": adding a present value or deleting an absent one succeeds.
PERMISSIVE_MODIFY = ("1.2.840.113556.1.4.1413", False, None)
NO_SUCH_OBJECT, ALREADY_EXISTS, INVALID_CREDENTIALS = 32, 68, 49
SCHEMA_PROBLEMS = {17, 18, 21, 65, 69}  # undefinedAttributeType ... objectClassViolation
WINDOW = 256  # writes outstanding on the connection (slapd's olcConnMaxPendingAuth is 1,000)
SEND_BATCH = 32  # encoded writes per sendall
T = TypeVar("T")


@dataclass(frozen=True)
class Write(Generic[T]):
    """One write for `LDAPSession.write_all`: an add (attributes include objectClass), a
    replace of each named attribute's values, or a delete. `item` is the caller's, returned
    with an add whose entry already existed."""

    kind: Literal["add", "replace", "delete"]
    dn: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    item: T | None = None

    def encode(self, message_id: int) -> bytes:
        if self.kind == "add":
            return ber.add_request(message_id, self.dn, self.attributes)
        if self.kind == "replace":
            return ber.replace_request(message_id, self.dn, self.attributes)
        return ber.delete_request(message_id, self.dn)

    @property
    def response(self) -> int:
        return {"add": ber.ADD_RESPONSE, "replace": ber.MODIFY_RESPONSE}.get(
            self.kind, ber.DEL_RESPONSE
        )

    @property
    def tolerated(self) -> int:
        """The failure that is not one: the entry exists (add) or is already gone."""
        return ALREADY_EXISTS if self.kind == "add" else NO_SUCH_OBJECT


@dataclass(frozen=True)
class LDAPTarget:
    url: str
    base_dn: str
    bind_dn: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> LDAPTarget:
        if not settings.ldap_url or not settings.ldap_base_dn:
            raise DirectoryError(
                ErrorKind.CONFIG,
                "set ldap_url and ldap_base_dn (config/settings.toml, or CLEARANCE_LDAP_URL and "
                "CLEARANCE_LDAP_BASE_DN) to publish to LDAP",
            )
        return cls(
            settings.ldap_url,
            settings.ldap_base_dn,
            settings.ldap_bind_dn,
            read_password(settings.ldap_password_file),
        )


def read_password(path: Path | str | None) -> str:
    if not path:
        return ""
    try:
        secret = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise DirectoryError(
            ErrorKind.CONFIG, f"cannot read the LDAP password file {path}: {exc.strerror}"
        ) from None
    if not secret:
        raise DirectoryError(ErrorKind.CONFIG, f"the LDAP password file {path} is empty")
    return secret


class LDAPSession:
    """A bound connection. `operations` counts the writes sent."""

    def __init__(self, target: LDAPTarget, *, timeout: float = 30.0) -> None:
        self.target = target
        self.operations = 0
        try:
            server = Server(
                target.url.rstrip("/"), get_info=NONE, connect_timeout=int(min(timeout, 10))
            )
            self.conn = Connection(
                server,
                user=target.bind_dn or None,
                password=target.password or None,
                receive_timeout=int(timeout),
                raise_exceptions=False,
                auto_referrals=False,
            )
        except LDAPException as exc:
            raise DirectoryError(ErrorKind.CONFIG, f"bad LDAP URL {target.url!r}: {exc}") from None
        try:
            self.conn.open()
            bound = self.conn.bind()
        except LDAPException as exc:
            self._close_socket()
            raise DirectoryError(
                ErrorKind.UNAVAILABLE, f"cannot reach the LDAP server at {target.url}: {exc}"
            ) from None
        if not bound:
            code = self.conn.result.get("result")
            self.close()
            if code == INVALID_CREDENTIALS:
                raise DirectoryError(
                    ErrorKind.CONFIG,
                    f"the LDAP server at {target.url} refused the bind DN and password",
                )
            raise DirectoryError(ErrorKind.UNAVAILABLE, f"the LDAP bind failed: {self._describe()}")

    def close(self) -> None:
        with contextlib.suppress(LDAPException):
            self.conn.unbind()
        self._close_socket()

    def _abandon(self) -> None:
        """Close a connection left in an unknown state; `close` then does nothing more."""
        self._close_socket()
        self.conn.closed = True
        self.conn.bound = False

    def _close_socket(self) -> None:
        sock = getattr(self.conn, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> LDAPSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- results ----------------------------------------------------------------------------
    def _describe(self) -> str:
        result = self.conn.result or {}
        return f"{result.get('description')} ({result.get('result')}): {result.get('message')}"

    def _check(self, ok: bool, what: str, allowed: Sequence[int] = ()) -> int:
        code = int((self.conn.result or {}).get("result", 0 if ok else 80))
        if ok or code in allowed:
            return code
        kind = ErrorKind.CONFIG if code in SCHEMA_PROBLEMS else ErrorKind.UNAVAILABLE
        hint = (
            " (is config/ldap/clearance.ldif loaded into the server?)"
            if code in SCHEMA_PROBLEMS
            else ""
        )
        raise DirectoryError(kind, f"LDAP {what} failed: {self._describe()}{hint}")

    def _run(self, call: Any, *args: Any, **kwargs: Any) -> bool:
        try:
            return bool(call(*args, **kwargs))
        except LDAPException as exc:
            raise DirectoryError(
                ErrorKind.UNAVAILABLE, f"the LDAP server at {self.target.url} failed: {exc}"
            ) from None

    # --- writes -----------------------------------------------------------------------------
    def add(self, dn: str, classes: Sequence[str], attributes: dict[str, Any]) -> int:
        self.operations += 1
        ok = self._run(self.conn.add, dn, list(classes), attributes)
        return self._check(ok, f"add of {dn}", (ALREADY_EXISTS,))

    def replace(self, dn: str, attributes: dict[str, Any]) -> int:
        self.operations += 1
        changes = {name: [(MODIFY_REPLACE, values)] for name, values in attributes.items()}
        ok = self._run(self.conn.modify, dn, changes)
        return self._check(ok, f"modify of {dn}", (NO_SUCH_OBJECT,))

    def change_values(
        self, dn: str, attribute: str, *, add: Sequence[str] = (), delete: Sequence[str] = ()
    ) -> int:
        """Add and delete single values, tolerating present/absent ones (permissive modify)."""
        ops = []
        if add:
            ops.append((MODIFY_ADD, list(add)))
        if delete:
            ops.append((MODIFY_DELETE, list(delete)))
        if not ops:
            return 0
        self.operations += 1
        ok = self._run(self.conn.modify, dn, {attribute: ops}, controls=[PERMISSIVE_MODIFY])
        return self._check(ok, f"modify of {dn}", (NO_SUCH_OBJECT,))

    def delete(self, dn: str) -> int:
        self.operations += 1
        ok = self._run(self.conn.delete, dn)
        return self._check(ok, f"delete of {dn}", (NO_SUCH_OBJECT,))

    def write_all(self, writes: Iterable[Write[T]], *, window: int = WINDOW) -> list[Write[T]]:
        """Send the writes pipelined: up to `window` outstanding on this connection, so round
        trips overlap and slapd works while the caller builds the next entries. Requests are
        encoded by `ber` (ldap3's pyasn1 encoding is the cost this avoids) and answers decoded
        by ldap3's own fast decoder. Returns the adds whose entry already existed. The first
        other failure stops sending; the answers still due are read, then it is raised."""
        if self.conn.closed or self.conn.socket is None:
            raise DirectoryError(ErrorKind.UNAVAILABLE, "the LDAP connection is closed")
        sock = self.conn.socket
        pending: dict[int, Write[T]] = {}
        existed: list[Write[T]] = []
        failures: list[DirectoryError] = []
        answers = _Answers(sock)
        out: list[bytes] = []
        try:
            for write in writes:
                message_id = self.conn.server.next_message_id()
                out.append(write.encode(message_id))
                pending[message_id] = write
                self.operations += 1
                if len(out) >= SEND_BATCH or len(pending) >= window:
                    sock.sendall(b"".join(out))
                    out.clear()
                while len(pending) >= window and not failures:
                    self._settle(answers, pending, existed, failures)
                if failures:
                    break
            if out:
                sock.sendall(b"".join(out))
            while pending:
                self._settle(answers, pending, existed, failures)
        except (OSError, _Garbled) as exc:
            self._abandon()
            raise DirectoryError(
                ErrorKind.UNAVAILABLE,
                f"the LDAP server at {self.target.url} failed during a pipelined write: {exc}",
            ) from None
        except BaseException:
            self._abandon()  # answers still due would confuse the next operation
            raise
        if failures:
            raise failures[0]
        return existed

    def _settle(
        self,
        answers: _Answers,
        pending: dict[int, Write[T]],
        existed: list[Write[T]],
        failures: list[DirectoryError],
    ) -> None:
        """Read at least one answer and account for each one read."""
        for message in answers.read():
            message_id = message["messageID"]
            write = pending.pop(message_id, None)
            if write is None or message["protocolOp"] != write.response:
                raise _Garbled(
                    f"unexpected LDAP message {message_id} (operation {message['protocolOp']})"
                    if message_id
                    else "the server ended the session (notice of disconnection)"
                )
            try:
                result = ldap_result_to_dict_fast(message["payload"])
                code = int(result["result"])
            except (LookupError, TypeError, ValueError) as exc:
                raise _Garbled(f"unreadable LDAP result: {exc!r}") from None
            if code == 0:
                continue
            if code == write.tolerated:
                if write.kind == "add":
                    existed.append(write)
                continue
            kind = ErrorKind.CONFIG if code in SCHEMA_PROBLEMS else ErrorKind.UNAVAILABLE
            hint = (
                " (is config/ldap/clearance.ldif loaded into the server?)"
                if (code in SCHEMA_PROBLEMS)
                else ""
            )
            failures.append(
                DirectoryError(
                    kind,
                    f"LDAP {write.kind} of {write.dn} failed: {result['description']} ({code}): "
                    f"{result['message']}{hint}",
                )
            )

    # --- reads ------------------------------------------------------------------------------
    def read(self, dn: str, attributes: Sequence[str]) -> dict[str, Any] | None:
        self._run(self.conn.search, dn, "(objectClass=*)", BASE, attributes=list(attributes))
        ok = (self.conn.result or {}).get("result") == 0  # search is "false" when empty
        if self._check(ok, f"read of {dn}", (NO_SUCH_OBJECT,)) == NO_SUCH_OBJECT:
            return None
        if not self.conn.response:
            return None
        return dict(self.conn.response[0]["raw_attributes"])

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        page_size: int = 1000,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every entry under base matching the filter, paged (RFC 2696). Values are raw bytes."""
        cookie: Any = None
        while True:
            self._run(
                self.conn.search,
                base,
                search_filter,
                SUBTREE,
                attributes=list(attributes),
                paged_size=page_size,
                paged_cookie=cookie,
            )
            ok = (self.conn.result or {}).get("result") == 0
            if self._check(ok, f"search under {base}", (NO_SUCH_OBJECT,)) == NO_SUCH_OBJECT:
                return
            page = list(self.conn.response or [])
            controls = (self.conn.result or {}).get("controls") or {}
            cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            for item in page:  # the caller may use the connection between pages
                if item.get("type") == "searchResEntry":
                    yield item["dn"], dict(item["raw_attributes"])
            if not cookie:
                return


class _Garbled(Exception):
    """An answer that is not what a pipelined write expects."""


class _Answers:
    """Whole LDAP messages read from a socket, decoded by ldap3's fast decoder."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def read(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while not messages:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("the server closed the connection")
            self.buffer += chunk
            while len(self.buffer) >= 2:
                if self.buffer[1] & 0x80 and len(self.buffer) < 2 + (self.buffer[1] & 0x7F):
                    break
                size, offset = compute_ber_size(bytes(self.buffer[:10]))
                if len(self.buffer) < offset + size:
                    break
                message = bytes(self.buffer[: offset + size])
                del self.buffer[: offset + size]
                try:
                    messages.append(decode_message_fast(message))
                except (LookupError, TypeError, ValueError) as exc:
                    raise _Garbled(f"undecodable LDAP message: {exc!r}") from None
        return messages


def text(values: Any) -> list[str]:
    """Raw attribute values (bytes) as text."""
    if values is None:
        return []
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def first(values: Any) -> str | None:
    found = text(values)
    return found[0] if found else None
