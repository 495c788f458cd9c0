"""No secret ever reaches stdout, stderr, logs or the database: every command, with -v/-vv,
through the success and the error paths."""

from __future__ import annotations

import os
import stat
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


def test_the_http_client_always_verifies_certificates() -> None:
    import asyncio
    import ssl

    from waypost.errors import NetworkError
    from waypost.http import RetryPolicy, Session

    async def go() -> ssl.SSLContext:
        async with Session(retry=RetryPolicy(attempts=1)) as session:
            with pytest.raises(NetworkError):
                await session.request("c", "GET", "https://127.0.0.1:9/")  # nothing listens
            pool = session._client._transport._pools["https"]  # type: ignore[union-attr]
            return pool._pool._ssl_context  # type: ignore[no-any-return]

    context = asyncio.run(go())
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0
