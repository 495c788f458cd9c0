"""``waypost track`` on a terminal (a table) takes the lean paths too: for ILS numbers and for
TrackingMore v4 numbers in the account the screen is the model path's, cell for cell, at a
narrow and a wide terminal, in colour and without (it was the model path's alone: about 0.30 s
for one number where the lean path takes about 0.14 s); and after Ctrl-C, what either path
prints of the answers so far."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.test_lean_track_v4 import TAKEN, _env, numbers
from tests.forked import ForkServer
from tests.pty_forked import run_on_pty_forked
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.real_clock

# The ILS lean path's end, marked as quick_tm's is by TAKEN.
TAKEN_ILS = TAKEN.replace("waypost.quick_tm", "waypost.quick")


def _screen(text: str) -> str:
    return re.sub(r"\x1b]8;id=\d+;", "\x1b]8;id=N;", text)  # hyperlink ids are random


def _both(
    forker: ForkServer, box: Sandbox, tmp: Path, args: list[str], columns: int, color: bool
) -> tuple[str, str]:
    """(how the lean run ended, its screen), asserting that the model path's is the same."""
    screens, codes, errs, taken = [], [], [], ""
    for lean in (True, False):
        mark = tmp / "taken"
        mark.unlink(missing_ok=True)
        env = {**_env(box, tmp / ("lean" if lean else "model"), lean), "TZ": "UTC"}
        preexec = (TAKEN + TAKEN_ILS).format(mark=str(mark))
        run = run_on_pty_forked(
            forker, *args, columns=columns, color=color, env=env, timeout=120, preexec=preexec
        )
        screens.append(_screen(run.screen))
        codes.append(run.code)
        errs.append(run.err)
        if lean:
            taken = mark.read_text() if mark.exists() else "model path"
    assert codes[0] == codes[1] == 0, errs
    assert screens[0] == screens[1]
    assert errs[0] == errs[1]
    return taken, screens[0]


@pytest.mark.parametrize(("columns", "color"), [(60, True), (120, False)])
def test_ils_numbers_on_a_terminal_print_the_models_table(
    forker: ForkServer, box: Sandbox, tmp_path: Path, columns: int, color: bool
) -> None:
    asked = ["track", "--tz", "UTC", "3676E4043665", "3676E4038521", "3676E4040017"]
    taken, screen = _both(forker, box, tmp_path, asked, columns, color)
    assert taken == "printed"
    assert "3676E4043665" in screen
    assert "When" in screen  # the timeline table's header


@pytest.mark.parametrize(("columns", "color"), [(60, False), (120, True)])
def test_v4_numbers_in_the_account_on_a_terminal_print_the_models_table(
    forker: ForkServer, box: Sandbox, tmp_path: Path, columns: int, color: bool
) -> None:
    listed = numbers(5, preload=box)
    taken, screen = _both(forker, box, tmp_path, ["track", "--tz", "UTC", *listed], columns, color)
    assert taken == "printed"
    assert all(n in screen for n in listed)
    assert "When" in screen


# In the lean child: Ctrl-C as the first answer is counted (before it is printed), and a mark
# that the lean path's handler ran.
INTERRUPT = """
import os, signal
import waypost.quick as q, waypost.quick_tm as qt, waypost.render as r
def _advance(inner):
    def wrapped(self, carrier, count):
        inner(self, carrier, count)
        os.kill(os.getpid(), signal.SIGINT)
    return wrapped
r._Progress.advance = _advance(r._Progress.advance)
def _ended(inner):
    def wrapped(*args, **kw):
        open({mark!r}, "w").write("interrupted")
        return inner(*args, **kw)
    return wrapped
q._Run._interrupted = _ended(q._Run._interrupted)
qt._Run._interrupted = _ended(qt._Run._interrupted)
"""
STALLED = '[watch]\nstalled_after = "10m"\n'
ILS_ANSWERED = ["3676E4043665", "1234S5678901", "3676E4040017", "3676E4038521", "3676E4038434"]


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--jsonl"]])
@pytest.mark.parametrize("carrier", ["ils", "trackingmore"])
def test_ctrl_c_after_every_answer_prints_what_the_model_path_prints_of_them(
    forker: ForkServer, box: Sandbox, tmp_path: Path, fmt: list[str], carrier: str
) -> None:
    """Ctrl-C once every number is answered (one request) but not yet printed: the lean path
    prints them as the model path does (stalled marked; the JSON document, not a traceback; the
    JSON lines not streamed yet), then the note."""
    (tmp_path / "config.toml").write_text(STALLED)
    (tmp_path / "config.toml").chmod(0o600)
    asked = ILS_ANSWERED if carrier == "ils" else numbers(5, preload=box)
    mark = tmp_path / "taken"
    runs = []
    for lean in (True, False):
        env = {**_env(box, tmp_path / ("lean" if lean else "model"), lean), "TZ": "UTC"}
        preexec = INTERRUPT.format(mark=str(mark)) if lean else ""
        runs.append(
            run_on_pty_forked(
                forker, "track", *fmt, *asked, columns=100, env=env, timeout=120, preexec=preexec
            )
        )
    lean_run, model = runs
    assert mark.read_text() == "interrupted"
    assert model.code == 0, model.err
    assert lean_run.code == 130, lean_run.err
    note = f"waypost: note: {len(asked)} of {len(asked)} number(s) answered before the interrupt"
    assert lean_run.err == f"{note}\nwaypost: interrupted\n"
    screens = [_screen(run.screen) for run in runs]
    if fmt == ["--jsonl"]:
        screens = [sorted(s.splitlines()) for s in screens]  # lines come as answers do
    assert screens[0] == screens[1]
    if carrier == "ils" and not fmt:
        assert "stalled" in screens[0]  # 1234S5678901: in transit, its newest event 20 h old


@pytest.mark.parametrize("carrier", ["ils", "trackingmore"])
def test_ctrl_c_after_every_answer_piped_prints_the_model_paths_lines(
    forker: ForkServer, box: Sandbox, tmp_path: Path, carrier: str
) -> None:
    """The same through a pipe (plain lines): the stalled ones are marked there too."""
    (tmp_path / "config.toml").write_text(STALLED)
    (tmp_path / "config.toml").chmod(0o600)
    asked = ILS_ANSWERED if carrier == "ils" else numbers(5, preload=box)
    mark = tmp_path / "taken"
    runs = []
    for lean in (True, False):
        env = {**_env(box, tmp_path / ("lean" if lean else "model"), lean), "TZ": "UTC"}
        preexec = INTERRUPT.format(mark=str(mark)) if lean else ""
        runs.append(forker.run("track", *asked, env=env, timeout=120, preexec=preexec))
    assert mark.read_text() == "interrupted"
    assert (runs[0].code, runs[1].code) == (130, 0), runs[0].err
    assert runs[0].out == runs[1].out
    assert "stalled" in runs[0].out
