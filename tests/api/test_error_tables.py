"""One table per transport from every error kind of both packages to its HTTP status, SMTP reply
and CLI exit code: exhaustive, and consistent about whose fault it is."""

from __future__ import annotations

import json

import pytest
import typer

from api.cli.errors import BAD_INPUT, EXIT, PKI_EXIT, UNAVAILABLE, translated
from api.gateway.smtp import MAP_REPLY, POLICY_REPLY, map_error
from api.problems import PKI_STATUS, STATUS, TITLES, from_directory_error, from_pki_error
from directory.errors import DirectoryError, ErrorKind
from pki.errors import PkiError, PkiErrorKind

CALLERS_FAULT = {
    ErrorKind.MALFORMED,
    ErrorKind.NOT_FOUND,
    ErrorKind.CONFLICT,
    ErrorKind.UNAUTHENTICATED,
    ErrorKind.FORBIDDEN,
}


def test_every_table_names_every_kind_and_no_other() -> None:
    for table in (STATUS, TITLES, EXIT, POLICY_REPLY, MAP_REPLY):
        assert set(table) == set(ErrorKind)
    for pki_table in (PKI_STATUS, PKI_EXIT):
        assert set(pki_table) == set(PkiErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_a_directory_error_means_the_same_on_every_transport(kind: ErrorKind) -> None:
    exc = DirectoryError(kind, "a detail")
    status = from_directory_error(exc).status_code
    assert status == STATUS[kind]
    if kind in CALLERS_FAULT:
        assert 400 <= status < 500
    else:
        assert status >= 500
    assert (status == 503) is (kind is ErrorKind.UNAVAILABLE)

    @translated
    def command() -> None:
        raise exc

    with pytest.raises(typer.Exit) as exited:
        command()
    assert exited.value.exit_code == EXIT[kind]
    assert (exited.value.exit_code == UNAVAILABLE) is (
        kind in (ErrorKind.UNAVAILABLE, ErrorKind.INTERNAL)
    )

    # at SMTP time only a malformed address is the sender's fault: everything else defers
    policy, socketmap = POLICY_REPLY[kind], map_error(exc)
    if kind is ErrorKind.MALFORMED:
        assert policy.startswith("550 5.1.3") and socketmap == "NOTFOUND "
    else:
        assert policy.startswith("451 4.3.") and socketmap.startswith("TEMP ")


@pytest.mark.parametrize("kind", list(PkiErrorKind))
def test_a_pki_error_means_the_same_on_every_transport(
    kind: PkiErrorKind, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = PkiError(kind, "a detail")
    response = from_pki_error(exc)
    body = json.loads(bytes(response.body))
    ours = kind in (PkiErrorKind.UNAUTHORIZED, PkiErrorKind.INTERNAL)
    assert response.status_code == (500 if ours else PKI_STATUS[kind])
    assert ("a detail" in body["detail"]) is not ours  # a fault of ours loses its detail

    @translated
    def command() -> None:
        raise exc

    with pytest.raises(typer.Exit) as exited:
        command()
    code = exited.value.exit_code
    assert code == PKI_EXIT[kind]
    # the caller's input (400s) and the operator's configuration (a wrong CA passphrase) exit 2
    assert (code == BAD_INPUT) is (kind is not PkiErrorKind.INTERNAL)
    assert "PkiError" not in capsys.readouterr().err  # never the raw exception


def test_an_unexpected_error_exits_3_with_one_log_record(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    @translated
    def command() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(typer.Exit) as exited:
        command()
    assert exited.value.exit_code == UNAVAILABLE
    assert len([r for r in caplog.records if r.exc_info]) == 1
    assert "did not complete" in capsys.readouterr().err
