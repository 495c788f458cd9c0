"""Standard streams in every state, with real child processes: an encoding that cannot show the
carriers' text (escaped as ``\\uXXXX``, so JSON stays exact), a reader that went away (quiet,
exit 141 as for SIGPIPE), a closed or full standard output (a clear message, exit 1). In each
case no traceback, and a watch pass whose news could not be printed delivers it next time.

Where the point is the streams' state at start-up, the interpreter really started in it: an
encoding from the locale comes from a fork server started under that locale (its children write
through the streams that start-up made, tests/forked.py), a descriptor closed before start-up
(``sys.stdout`` is then None) needs a fresh interpreter each time. A pipe without a reader or a
full device behind an open descriptor is the same for a child of the warm interpreter, which
sets it up itself."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.forked import Forked, ForkServer
from tests.pty_forked import run_on_pty_forked
from waypost.sandbox import Sandbox

CHINESE = "pandapon:2542285634920880794"
ILS = "3676E4043665"
LOCALES = {
    "C locale": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    "ascii": {"PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"},
    "latin-1": {"PYTHONIOENCODING": "latin-1", "PYTHONUTF8": "0"},
}


def env_with(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")}
    return {**env, **extra}


def waypost(
    *args: str,
    extra: dict[str, str] | None = None,
    stdout: int | None = subprocess.PIPE,
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "waypost", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env_with(extra or {}),
        preexec_fn=preexec,
        timeout=60,
        check=False,
    )


def no_traceback(r: subprocess.CompletedProcess[bytes]) -> str:
    err = r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    assert "internal error" not in err
    return err


@pytest.fixture(scope="module")
def started_in() -> Iterator[Callable[[str], ForkServer]]:
    """A fork server per locale whose interpreter started under it (tests/forked.py): its
    children write through the very streams a fresh ``python -m waypost`` gets there (encoding,
    error handler, UTF-8 mode), for one start-up per locale instead of one per run."""
    servers: dict[str, ForkServer] = {}

    def server(locale: str) -> ForkServer:
        if locale not in servers:
            servers[locale] = ForkServer(env=env_with(LOCALES[locale]))
        return servers[locale]

    try:
        yield server
    finally:
        for one in servers.values():
            one.close()


def in_locale(
    started_in: Callable[[str], ForkServer], locale: str, *args: str, **extra: str
) -> Forked:
    """``waypost ARGS`` forked from the server started under ``locale``, with its variables."""
    return started_in(locale).run(*args, env=env_with({**LOCALES[locale], **extra}), timeout=60)


@pytest.mark.parametrize("locale", LOCALES)
def test_carrier_text_in_a_non_utf8_locale_is_escaped_not_a_crash(
    locale: str,
    sandbox: Sandbox,
    started_in: Callable[[str], ForkServer],
) -> None:
    r = in_locale(started_in, locale, "track", CHINESE, ILS)
    no_traceback_in(r)
    assert r.code == 0
    assert r.out.isascii()  # even latin-1 output holds no byte above 0x7f here
    text = r.out
    assert "\\u5e7f\\u5dde" in text  # 广州, visible and unambiguous
    assert ILS in text


@pytest.mark.parametrize("locale", LOCALES)
def test_json_in_a_non_utf8_locale_stays_exact(
    locale: str,
    sandbox: Sandbox,
    cli,  # type: ignore[no-untyped-def]
    started_in: Callable[[str], ForkServer],
) -> None:
    utf8 = cli("track", "--json", CHINESE)  # the reference: in-process, UTF-8 text
    narrow = in_locale(started_in, locale, "track", "--json", CHINESE)
    no_traceback_in(narrow)
    assert narrow.code == 0
    assert narrow.out.isascii()
    assert "\\u5e7f" in narrow.out  # escaped, not replaced
    assert json.loads(narrow.out) == utf8.json()


@pytest.mark.parametrize("locale", LOCALES)
def test_config_show_masks_in_a_non_utf8_locale(
    locale: str, isolated: Path, started_in: Callable[[str], ForkServer]
) -> None:
    key = {"WAYPOST_TRACKINGMORE_API_KEY": "abcdefghijklmnopqrstuvwxyz"}
    r = in_locale(started_in, locale, "config", "show", **key)
    no_traceback_in(r)
    assert r.code == 0
    assert r.out.isascii()
    out = r.out
    assert "abcd\\u2026wxyz" in out
    assert "abcdefghijklmnopqrstuvwxyz" not in out


@pytest.mark.parametrize("columns", [60, 120])
@pytest.mark.parametrize("locale", ["ascii", "C locale"])
def test_a_terminal_with_an_ascii_encoding_shows_the_table(
    sandbox: Sandbox, started_in: Callable[[str], ForkServer], locale: str, columns: int
) -> None:
    # On a real terminal, forked from the server whose start-up was under that locale. The
    # escapes are made before the table is laid out: it keeps to the terminal's width (it was
    # 120 and 204 cells wide at 60 and 120 columns, escaped after the layout).
    run = run_on_pty_forked(
        started_in(locale),
        "track",
        CHINESE,
        columns=columns,
        timeout=60,
        env=env_with({**LOCALES[locale], "TERM": "xterm"}),
    )
    shown = (run.raw + run.raw_err).decode("ascii", "replace")
    assert run.code == 0, shown
    assert "Traceback" not in shown
    assert "\\u5e7f" in shown  # 广, escaped (a narrow column may fold between escapes)
    assert run.raw.isascii()
    assert run.widest() <= columns, run.screen


def test_the_watch_list_in_an_ascii_locale_keeps_to_the_terminal(
    sandbox: Sandbox, started_in: Callable[[str], ForkServer]
) -> None:
    saved = in_locale(started_in, "ascii", "track", "--save", CHINESE, ILS)
    assert saved.code == 0, saved.err
    run = run_on_pty_forked(
        started_in("ascii"),
        "list",
        columns=70,
        timeout=60,
        env=env_with({**LOCALES["ascii"], "TERM": "xterm"}),
    )
    assert run.code == 0, run.err
    assert run.raw.isascii()
    assert "\\u" in run.screen  # the Chinese last event, escaped
    assert run.widest() <= 70, run.screen


# Run by a forked child before waypost: its standard output becomes a pipe without a reader.
READER_GONE = "import os\nr, w = os.pipe()\nos.close(r)\nos.dup2(w, 1)\nos.close(w)\n"
# ... or the full device.
FULL = "import os\nfd = os.open('/dev/full', os.O_WRONLY)\nos.dup2(fd, 1)\nos.close(fd)\n"


def no_traceback_in(r: Forked) -> str:
    assert "Traceback" not in r.err
    assert "internal error" not in r.err
    return r.err


def test_a_reader_that_went_away_is_a_quiet_exit_141(sandbox: Sandbox, forker: ForkServer) -> None:
    for args in (("track", ILS, CHINESE), ("track", "--jsonl", ILS), ("carriers",)):
        r = forker.run(*args, preexec=READER_GONE, timeout=60)
        assert r.code == 141, r.err
        assert r.err == ""


def test_a_closed_stdout_is_a_clear_error(sandbox: Sandbox) -> None:
    r = waypost("track", ILS, stdout=None, preexec=lambda: os.close(1))
    err = no_traceback(r)
    assert r.returncode == 1
    assert "standard output is closed" in err
    quiet = waypost(
        "config", "set", "watch.interval", "15m", stdout=None, preexec=lambda: os.close(1)
    )
    no_traceback(quiet)
    assert quiet.returncode == 0  # nothing to print: nothing fails


def test_a_full_stdout_is_a_clear_error(sandbox: Sandbox, forker: ForkServer) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    r = forker.run("track", ILS, preexec=FULL, timeout=60)
    err = no_traceback_in(r)
    assert r.code == 1
    assert "No space left on device" in err


@pytest.mark.parametrize("how", ["broken pipe", "closed stdout"])
def test_watch_news_that_could_not_be_printed_comes_again(
    how: str,
    sandbox: Sandbox,
    cli,  # type: ignore[no-untyped-def]
    forker: ForkServer,
) -> None:
    assert cli("track", "--save", ILS).code == 0
    assert sandbox.apps["ils"].add_event(ILS, "Released by customs", "Rotterdam")
    if how == "broken pipe":
        piped = forker.run("watch", "--once", preexec=READER_GONE, timeout=60)
        assert piped.code == 141
        no_traceback_in(piped)
    else:
        r = waypost("watch", "--once", stdout=None, preexec=lambda: os.close(1))
        assert r.returncode == 1
        no_traceback(r)
    again = cli("watch", "--once")
    assert again.code == 0
    assert "Released by customs" in again.out


def test_progress_on_an_ascii_stderr_has_an_ascii_bar_and_keeps_to_the_width() -> None:
    # Rich drew both parts of the bar with '-' there (only colour told them apart) and cut the
    # waiting text with '…', which reached the terminal as a 6-cell '\u2026'.
    from waypost.render import Terminal, progress

    now = [100.0]
    err = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    term = Terminal(stderr_tty=True, width=40)
    bar = progress(term, enabled=True, deadline=30, delay=0, file=err, clock=lambda: now[0])
    bar.start({"trackingmore": 4, "ils": 2})
    bar.advance("trackingmore", 2)
    now[0] = 112.0
    shown = bar.render()
    bar.stop()
    assert shown.isascii(), shown
    assert "#####-----" in shown  # half of trackingmore's numbers answered
    assert "----------" in shown  # none of ils's
    tm_line = next(line for line in shown.splitlines() if "trackingmore" in line)
    assert tm_line.rstrip().endswith(" 12 s")  # what is left room for: how long so far
    assert max(len(line) for line in shown.splitlines()) <= 40, shown


def test_progress_on_an_ascii_terminal_keeps_to_its_width(
    started_in: Callable[[str], ForkServer],
) -> None:
    # A real terminal on both streams, the stream's encoding from start-up; each request takes
    # longer than the half second before the lines appear, so they are drawn.
    slow = Sandbox(port=0, latency_ms=900).start()
    try:
        run = run_on_pty_forked(
            started_in("ascii"),
            "track",
            "--deadline",
            "30",
            ILS,
            columns=40,
            timeout=60,
            env=env_with({**LOCALES["ascii"], **slow.env(), "TERM": "xterm"}),
            preexec="os.dup2(1, 2)\n",
        )
    finally:
        slow.stop()
    shown = run.raw.decode("ascii", "replace")
    assert run.code == 0, shown
    assert "waiting" in shown  # the progress lines were drawn
    assert run.raw.isascii()
    assert "\\u2026" not in shown
    # Colours and links take no room; a cursor move or an erase starts a line anew.
    drawn = re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b\x07]*(?:\x1b\\|\x07)", "", shown)
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "\n", drawn)
    assert max(len(line) for line in drawn.split("\n")) <= 40, drawn


def test_a_file_name_typed_in_utf8_under_the_c_locale_is_shown_not_replaced(
    tmp_path: Path,
) -> None:
    # Python keeps its bytes as lone surrogates there; the message showed each as '\ufffd'.
    bad = tmp_path / "\u5e7f\u5dde.toml"
    bad.write_text("[watch\n", encoding="utf-8")
    r = waypost("list", extra={**LOCALES["C locale"], "WAYPOST_CONFIG": str(bad)})
    err = no_traceback(r)
    assert r.returncode == 3
    assert r.stderr.isascii()
    assert "\\u5e7f\\u5dde.toml: invalid TOML" in err
    assert "\\ufffd" not in err


def test_bytes_an_ascii_locale_kept_are_read_as_utf8_and_the_rest_stay_marked() -> None:
    from waypost import safe

    assert safe.lines("/tmp/\udce5\udcb9\udcbf\udce5\udcb7\udc9e.toml") == "/tmp/\u5e7f\u5dde.toml"
    assert safe.field("caf\udcc3\udca9 \udcff") == "caf\u00e9 \ufffd"  # 0xff is no UTF-8
    assert safe.as_typed("plain \u5e7f") == "plain \u5e7f"


def test_a_label_typed_under_the_c_locale_is_saved_as_typed(
    sandbox: Sandbox,
    cli,  # type: ignore[no-untyped-def]
) -> None:
    # Its bytes reached the store as lone surrogates: an internal error (exit 70). A byte that
    # is no UTF-8 at all (0xff) is kept as U+FFFD, in any locale.
    c_locale = LOCALES["C locale"]
    saved = waypost("track", "--save", "--label", "\u5e7f\u5dde \udcff", ILS, extra=c_locale)
    no_traceback(saved)
    assert saved.returncode == 0
    edited = waypost("edit", ILS, "--label", "\u5e7f\u5dde\u2192", extra=c_locale)
    no_traceback(edited)
    assert edited.returncode == 0
    assert b"\\u5e7f\\u5dde\\u2192" in edited.stdout + edited.stderr
    listed = cli("list", "--json")
    assert '"label": "\u5e7f\u5dde\u2192"' in listed.out
    again = waypost("edit", ILS, "--label", "a\udcffb")  # a UTF-8 locale: still no text
    no_traceback(again)
    assert again.returncode == 0
    assert '"label": "a\ufffdb"' in cli("list", "--json").out


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_an_ascii_terminal_wraps_between_escapes_not_inside_one(
    sandbox: Sandbox, started_in: Callable[[str], ForkServer], columns: int
) -> None:
    # Rich folded a long escaped word at any cell: '\u5206' became '\u52' and '06' on the next
    # line, both read as something else.
    run = run_on_pty_forked(
        started_in("ascii"),
        "track",
        CHINESE,
        columns=columns,
        timeout=60,
        env=env_with({**LOCALES["ascii"], "TERM": "xterm"}),
    )
    assert run.code == 0, run.err
    assert run.raw.isascii()
    assert "\\u5e7f" in run.screen
    cut = [line for line in run.lines if re.search(r"\\u(?![0-9a-f]{4})", line)]
    assert cut == [], run.screen
    assert run.widest() <= columns, run.screen


def test_the_streams_escape_utf8_bytes_an_ascii_locale_kept_as_the_characters_typed() -> None:
    import codecs

    from waypost.cli import env

    codecs.register_error("waypost.escape", env._escape)
    kept = "caf\udcc3\udca9 \udce5\udcb9\udcbf \udcff"  # 'café 广' typed in UTF-8, then 0xff
    assert kept.encode("ascii", "waypost.escape") == b"caf\\u00e9 \\u5e7f \\udcff"
    assert "\u5e7f".encode("latin-1", "waypost.escape") == b"\\u5e7f"
