"""No secret ever reaches stdout, stderr, logs or the database: every command, with -v/-vv,
through the success and the error paths."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from waypost import carriers
from waypost.sandbox import Sandbox


def secret_vars(sandbox: Sandbox) -> dict[str, str]:
    keys = {s.env_var(n) for n in carriers.names() for s in carriers.info(n).secrets}
    return {k: v for k, v in sandbox.env().items() if k in keys}


def numbers() -> list[str]:
    return [f"{n}:{c['number']}" for n in carriers.names() for c in carriers.module(n).TEST_CASES]


def leaks(texts: list[str], secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(s in t for t in texts)]


def database_bytes(isolated: Path) -> str:
    data = isolated / "data"
    return (
        "".join(p.read_bytes().decode("latin-1") for p in data.glob("waypost.db*"))
        if data.exists()
        else ""
    )


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]])
def test_right_secrets_never_leak(
    sandbox: Sandbox, cli, isolated: Path, verbosity: list[str], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    secrets = list(secret_vars(sandbox).values())
    assert secrets
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\ncat >/dev/null\nexit 1\n")
    hook.chmod(0o755)
    runs = [
        cli(*verbosity, "track", *numbers()),
        cli(*verbosity, "track", "--json", "--save", "--label", "x", *numbers()),
        cli(*verbosity, "track", "not a number!"),
        cli(*verbosity, "watch", "--once", "--exec", str(hook)),
        cli(*verbosity, "list", "--all", "--json"),
        cli(*verbosity, "carriers", "--json"),
        cli(*verbosity, "carriers", "--detect", "LS912989618CN"),
        cli("config", "show"),
        cli("config", "show", "--json"),
        cli(*verbosity, "remove", *[n.split(":")[-1] for n in numbers()]),
        cli(*verbosity, "schema"),
    ]
    for key, value in secret_vars(sandbox).items():
        dotted = "carriers." + key.removeprefix("WAYPOST_").lower().replace("_", ".", 1)
        assert cli("config", "set", dotted, value).code == 0
    assert all(s in (isolated / "config" / "config.toml").read_text() for s in secrets)
    runs.append(cli("config", "show"))
    runs.append(cli("config", "show", "--json"))
    texts = [r.out for r in runs] + [r.err for r in runs]
    assert leaks(texts, secrets) == []
    assert leaks([database_bytes(isolated)], secrets) == []


@pytest.mark.parametrize("verbosity", [[], ["-vv"]])
def test_wrong_secrets_never_leak_through_error_paths(
    sandbox: Sandbox, cli, isolated: Path, monkeypatch, verbosity: list[str]
) -> None:  # type: ignore[no-untyped-def]
    wrong = {k: f"wrong-{k.lower()}-0123456789abcdef" for k in secret_vars(sandbox)}
    for key, value in wrong.items():
        monkeypatch.setenv(key, value)
    runs = [
        cli(*verbosity, "track", *numbers()),
        cli(*verbosity, "track", "--save", *numbers()),
        cli(*verbosity, "watch", "--once"),
        cli("config", "show"),
    ]
    assert {r.code for r in runs[:2]} == {3}
    sandbox.stop()
    runs.append(cli(*verbosity, "track", "--timeout", "0.5", *numbers()))
    runs.append(cli(*verbosity, "watch", "--once", "--timeout", "0.5"))
    texts = [r.out for r in runs] + [r.err for r in runs]
    assert leaks(texts, list(wrong.values())) == []
    assert leaks([database_bytes(isolated)], list(wrong.values())) == []


def test_config_file_is_0600_and_a_readable_one_draws_a_warning(cli, isolated: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("config", "set", "carriers.ils.pdd", "s3cret-value-123456").code == 0
    path = isolated / "config" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cli("carriers").err == ""
    os.chmod(path, 0o644)
    assert "readable by other users" in cli("carriers").err


def test_tls_verification_cannot_be_turned_off(cli) -> None:  # type: ignore[no-untyped-def]
    for key in (
        "http.verify",
        "http.insecure",
        "carriers.trackingmore.verify",
        "carriers.ils.verify_ssl",
    ):
        r = cli("config", "set", key, "false")
        assert r.code == 3
        assert "unknown key" in r.err


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    """A test CA and two certificates it signed: ``good`` for 127.0.0.1, ``wrong`` for another
    name (made with the openssl command, valid for two days)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make test certificates")
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(tmp_path, "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=waypost test CA")  # fmt: skip
    for name, san in (("good", "IP:127.0.0.1"), ("wrong", "DNS:elsewhere.invalid")):
        (tmp_path / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl(tmp_path, "req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}")  # fmt: skip
        _openssl(tmp_path, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
                 "ca.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext")  # fmt: skip
    return tmp_path


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A loopback HTTPS server answering ``{}`` to every request that completes a handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # how soon the serving thread notices it should stop
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                    )
            except (ssl.SSLError, OSError):
                raw.close()  # the client refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _fetch(port: int) -> int | str:
    """The status of one GET through waypost's session, or the causes of its NetworkError."""
    from waypost.errors import NetworkError
    from waypost.http import RetryPolicy, Session

    async def go() -> int:
        async with Session(retry=RetryPolicy(attempts=1)) as session:
            return (await session.request("c", "GET", f"https://127.0.0.1:{port}/")).status_code

    try:
        return asyncio.run(go())
    except NetworkError as exc:
        causes, cause = [], exc.__cause__
        while cause is not None:
            causes.append(repr(cause))
            cause = cause.__cause__ or cause.__context__
        return " / ".join(causes)


def test_the_http_client_always_verifies_certificates(
    certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behaviour, not httpx internals: an unknown CA and a wrong name are refused, a certificate
    for the right name from a CA in the default store (SSL_CERT_FILE) is accepted."""
    c = certificates
    with tls_server(c / "good.pem", c / "good.key") as port:
        untrusted = _fetch(port)  # the system's store, which does not hold the test CA
        assert isinstance(untrusted, str)
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted
        assert "unable to get local issuer certificate" in untrusted
        monkeypatch.setenv("SSL_CERT_FILE", str(c / "ca.pem"))
        assert _fetch(port) == 200  # the default store is what the session trusts
    with tls_server(c / "wrong.pem", c / "wrong.key") as port:
        wrong_name = _fetch(port)
        assert isinstance(wrong_name, str)
        assert "CERTIFICATE_VERIFY_FAILED" in wrong_name
        assert "mismatch, certificate is not valid for '127.0.0.1'" in wrong_name  # names checked
