"""One redaction rule (waypost.redaction) for stderr, logs, HTTP errors, `config show` and
the unknown `--notify` error: known secrets and the secret parts of URLs are masked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from waypost.redaction import MASK, redact

URLS = {
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321": "tgram://****/****",
    "json://user:S3cretPass@127.0.0.1:8000/hook": "json://user:****@127.0.0.1:8000/hook",
    "jsons://S3cretTokenOnly@example.com/x": "jsons://****@example.com/x",
    "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js": "discord://****/****",
    "ntfy://ntfy.sh/my-secret-topic": "ntfy://ntfy.sh/****",
    "mailto://me:app-password@gmail.com?to=a@b.example": "mailto://me:****@gmail.com?to=a@b.example",
    "https://hooks.example.com/x?token=abcdef123456&format=json": (
        "https://hooks.example.com/x?token=****&format=json"
    ),
    "https://api.example.com/v2/track?api_key=K3Y&courier=ups": (
        "https://api.example.com/v2/track?api_key=****&courier=ups"
    ),
    "http://127.0.0.1:8765/ils/oms/v2/event/getOrdersTrack": (
        "http://127.0.0.1:8765/ils/oms/v2/event/getOrdersTrack"
    ),
}
PASSWORDS = [
    "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "S3cretPass",
    "S3cretTokenOnly",
    "JHMHI8qBe7bk2ZwO5U711o3dV_js",
    "my-secret-topic",
    "app-password",
    "abcdef123456",
]


def test_urls_lose_their_secrets_and_keep_their_shape() -> None:
    for url, masked in URLS.items():
        assert redact(url) == masked
        assert redact(f"error: {url!r} failed") == f"error: {masked!r} failed"
        assert redact(masked) == masked


def test_known_secrets_are_masked_longest_first() -> None:
    assert redact("key abcdefgh and abcd", ["abcd", "abcdefgh"]) == f"key {MASK} and {MASK}"
    assert redact("pin 123", ["123"]) == "pin 123"  # too short to be worth masking


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=8, max_size=30))
def test_a_password_in_any_url_never_survives(password: str) -> None:
    assume(password.lower() != "localhost")  # a host name, kept in service URLs
    for url in (
        f"json://u:{password}@host.example/p",
        f"tgram://{password}/123",
        f"https://x.example/a?secret={password}",
    ):
        assert password not in redact(f"see {url} now")


@pytest.fixture
def notify_config(isolated: Path, cli) -> list[str]:  # type: ignore[no-untyped-def]
    urls = [u for u in URLS if not u.startswith("http")]
    assert cli("config", "set", "watch.notify", " ".join(urls)).code == 0
    return urls


def test_config_show_masks_notification_urls(notify_config: list[str], cli) -> None:  # type: ignore[no-untyped-def]
    texts = [cli("config", "show").out, cli("config", "show", "--json").out]
    for text in texts:
        assert [p for p in PASSWORDS if p in text] == []
    shown = json.loads(texts[1])["watch"]["notify"]
    assert shown == [URLS[u] for u in notify_config]


def test_config_show_masks_a_password_inside_any_url_setting(
    isolated: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAYPOST_ILS_BASE_URL", "http://user:Pw1nUrlSecret@127.0.0.1:1/ils")
    plain, as_json = cli("config", "show").out, cli("config", "show", "--json").out
    for text in (plain, as_json):
        assert "Pw1nUrlSecret" not in text
    assert json.loads(as_json)["carriers"]["ils"]["base_url"] == "http://user:****@127.0.0.1:1/ils"
    assert 'base_url = "http://user:****@127.0.0.1:1/ils"' in plain


def test_config_set_does_not_echo_the_url_secret(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("config", "set", "watch.notify", "json://user:S3cretPass@127.0.0.1/x")
    assert r.code == 0
    assert "S3cretPass" not in r.err
    assert "json://user:****@127.0.0.1/x" in r.err


def test_unknown_notify_scheme_error_masks_the_url(isolated: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("watch", "--once", "--notify", "nosuchscheme://BOTTOKEN123456/chat")
    assert r.code == 2
    assert "BOTTOKEN123456" not in r.err
    assert "nosuchscheme://****/****" in r.err


def test_logs_use_the_same_rule(isolated: Path, cli, capsys) -> None:  # type: ignore[no-untyped-def]
    from waypost import logs
    from waypost.cli.env import Env

    env = Env(secrets=["KNOWNSECRET1"])
    logs.setup(1, env.redact)
    logging.getLogger("waypost.test").info(
        "posting to %s with KNOWNSECRET1 \x1b]52;c;QQ==\x07", "tgram://123:ABCDEFGH/42"
    )
    err = capsys.readouterr().err
    assert "tgram://****/****" in err
    assert "KNOWNSECRET1" not in err
    assert "\x1b" not in err
    logs.reset()


def test_each_run_masks_its_own_secrets_in_logs(capsys) -> None:  # type: ignore[no-untyped-def]
    """The log handler is installed once per process; each run's Env brings its own secrets."""
    from waypost import logs
    from waypost.cli.env import Env

    try:
        logs.setup(1, Env(secrets=["FIRSTRUNSECRET"]).redact)
        logs.setup(1, Env(secrets=["SECONDRUNSECRET"]).redact)
        logging.getLogger("waypost.test").info("sent SECONDRUNSECRET")
        err = capsys.readouterr().err
        assert "sent ****" in err
        assert "SECONDRUNSECRET" not in err
    finally:
        logs.reset()


def test_config_show_judges_secrets_by_the_one_redaction_rule() -> None:
    from waypost.redaction import redact, secret_named
    from waypost.render import looks_secret

    for key in ("api_key", "pdd", "token", "password", "sig"):
        assert secret_named(key)
        assert looks_secret(key, "x")
        assert redact(f"https://h.example/?{key}=abcd1234") == f"https://h.example/?{key}=****"
    assert looks_secret("hook", "tgram://123456:ABCdef/987")  # masked by redact: a secret
    assert not looks_secret("interval", "30m")
    assert not looks_secret("url", "https://api.example/v4")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "cannot use the database mysql://u:S3cretPass@db.example/wp: [store] url must be",
            "cannot use the database mysql://u:****@db.example/****: [store] url must be",
        ),
        ("sent to ntfy://ntfy.sh/my-secret-topic.", "sent to ntfy://ntfy.sh/****."),
        ("(via tgram://12345:AAHdq/987)", "(via tgram://****/****)"),
    ],
)
def test_the_punctuation_that_ends_a_urls_sentence_is_kept(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert redact(shown) == shown


@given(
    scheme=st.sampled_from(["mysql", "tgram", "ntfy", "https", "json"]),
    rest=st.text(st.characters(codec="ascii", exclude_characters=" '\"<>"), max_size=40),
    end=st.sampled_from(["", ":", ".", ",", ";", ")", ": more text", "). More"]),
)
def test_the_text_after_a_url_is_never_masked_with_it(scheme: str, rest: str, end: str) -> None:
    url = f"{scheme}://{rest}"
    assert redact(f"at {url}{end}") == f"at {redact(url)}{end}"
