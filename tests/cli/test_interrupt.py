"""Ctrl-C: ``cli.main()`` is the one place that turns it into exit 130, with one line on stderr
(``waypost: interrupted``) and no traceback, for every command and wherever it lands: a watch
loop asleep between passes, a watch pass in the middle of its deliveries (what went out stays
delivered once, what did not comes next time), the lean and the model path of ``track``, and
before the CLI is even loaded.

The children hear a real SIGINT (tests/sigint.py), sent once they reached a point the test
waits for: a line on their output, a request the sandbox logged, a hook that said so."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import sigint
from tests.forked import Forked, ForkServer, Started
from tests.loopback import wait_for_request
from waypost.sandbox import Sandbox

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child")

ILS = "3676E4043665"
OTHER = "3676E4040017"
INTERRUPTED = "waypost: interrupted\n"


def no_traceback(done: Forked) -> None:
    assert "Traceback" not in done.err
    assert "Exception ignored" not in done.err
    assert "internal error" not in done.err


# -- every command, in-process: a KeyboardInterrupt inside any command is main()'s ------------

# Each command with the arguments its parser needs; every command the app has is here.
ARGV = {
    "track": ["track", ILS],
    "watch": ["watch", "--once"],
    "list": ["list"],
    "remove": ["remove", ILS],
    "carriers": ["carriers"],
    "schema": ["schema"],
    "archive": ["archive", ILS],
    "edit": ["edit", ILS],
    "link": ["link", ILS, OTHER],
    "import": ["import", "trackingmore"],
    "sandbox": ["sandbox"],
    "config path": ["config", "path"],
    "config show": ["config", "show"],
    "config set": ["config", "set", "watch.interval", "15m"],
    "config unset": ["config", "unset", "watch.interval"],
    "config init": ["config", "init"],
    "store migrate": ["store", "migrate"],
    "store copy": ["store", "copy", "--to", "postgresql://127.0.0.1:1/waypost"],
}


def test_the_table_names_every_command() -> None:
    from waypost.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names |= {
            f"{group.name} {c.name or c.callback.__name__}"  # type: ignore[union-attr]
            for c in group.typer_instance.registered_commands
        }
    assert names == set(ARGV)


@pytest.mark.parametrize("name", ARGV)
@pytest.mark.parametrize("root", [False, True])  # alone, or through the whole app
def test_ctrl_c_in_any_command_is_130_and_one_line(
    cli: Any, monkeypatch: pytest.MonkeyPatch, name: str, root: bool
) -> None:
    from waypost.cli.env import Env

    def interrupt(ctx: Any) -> Env:
        raise KeyboardInterrupt

    monkeypatch.setattr(Env, "of", staticmethod(interrupt))  # the first thing a command does
    r = cli(*(["--no-color"] if root else []), *ARGV[name])
    assert r.code == 130
    assert r.err == INTERRUPTED
    assert r.out == ""


def test_ctrl_c_while_main_builds_the_command_is_130(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("waypost.cli._single", interrupt)  # which command argv names
    r = cli("list")
    assert (r.code, r.err) == (130, INTERRUPTED)


# The end of input at a prompt is a usage error, not an interrupt (tests/cli/test_prompts.py).
def test_an_interrupted_prompt_ends_its_line_then_says_so(
    isolated: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prompt(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", prompt)
    monkeypatch.setattr("getpass.getpass", prompt)
    r = cli("config", "init")
    assert r.code == 130
    assert r.err.endswith("\n" + INTERRUPTED)
    assert "Traceback" not in r.err
    assert not (isolated / "config" / "config.toml").exists()  # nothing written


# -- real SIGINTs to child processes ---------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A FIFO to give a child as its standard output, and the test's reading end."""
    path = tmp_path / "stdout.fifo"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # before the child opens its end
    try:
        yield str(path), reader
    finally:
        os.close(reader)


def read_until(reader: int, marker: bytes, within: float = 60.0) -> bytes:
    """What the child wrote up to and including ``marker``."""
    seen = b""
    while marker not in seen:
        assert select.select([reader], [], [], within)[0], f"no {marker!r} in {seen[-300:]!r}"
        chunk = os.read(reader, 65536)
        assert chunk, f"the output ended without {marker!r}: {seen[-300:]!r}"
        seen += chunk
    return seen


def interrupt(forker: ForkServer, child: Started) -> Forked:
    """SIGINT to the child, then its end (killed if it does not end)."""
    done = None
    try:
        os.kill(child.pid, signal.SIGINT)
        done = forker.wait(child, timeout=30)
    finally:
        if done is None:
            os.kill(child.pid, signal.SIGKILL)
            forker.wait(child)
    return done


def test_ctrl_c_in_a_watch_loop_between_passes(
    sandbox: Sandbox, cli: Any, forker: ForkServer, fifo: tuple[str, int]
) -> None:
    assert cli("track", "--save", ILS).code == 0
    assert sandbox.apps["ils"].add_event(ILS, "Released by customs", "Rotterdam")
    path, reader = fifo  # its standard error: `-v` logs the pass's requests once it is done
    child = forker.start(
        "watch", "-v", "--interval", "1h", stderr=path, preexec=sigint.HEARD_IN_CHILD
    )
    read_until(reader, b" requests sent, ")  # delivered and stored; the loop sleeps
    done = interrupt(forker, child)
    no_traceback(done)
    err = read_until(reader, INTERRUPTED.encode()).decode()  # (the FIFO held stderr)
    assert done.code == 130
    assert err.endswith(INTERRUPTED)
    assert "Traceback" not in err
    assert "Released by customs" in done.out
    assert cli("watch", "--once").out == ""  # not told twice


def test_ctrl_c_in_a_watch_pass_between_deliveries(
    sandbox: Sandbox, cli: Any, forker: ForkServer, fifo: tuple[str, int], tmp_path: Path
) -> None:
    assert cli("track", "--save", ILS, OTHER).code == 0
    for number in (ILS, OTHER):
        assert sandbox.apps["ils"].add_event(number, f"Released by customs {number}", "Rotterdam")
    # A hook that takes the first shipment's news and, at the second, says so and waits.
    ready, hold = tmp_path / "ready.fifo", tmp_path / "hold.fifo"
    os.mkfifo(ready)
    os.mkfifo(hold)
    first = tmp_path / "first"
    hook = tmp_path / "hook.py"
    hook.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.stdin.read()
            if not os.path.exists({str(first)!r}):
                with open({str(first)!r}, "w") as out:
                    out.write(os.environ["WAYPOST_NUMBER"])
                sys.exit(0)
            with open({str(ready)!r}, "w") as out:
                out.write("ready\\n")
            open({str(hold)!r}).read()
            """
        )
    )
    marker = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)
    path, reader = fifo
    try:
        child = forker.start(
            "watch",
            "--once",
            "--exec",
            f"{sys.executable} {hook}",
            stdout=path,
            preexec=sigint.HEARD_IN_CHILD,
        )
        read_until(marker, b"ready\n")  # the second shipment's news is with the hook
        done = interrupt(forker, child)
    finally:
        os.close(marker)
        with contextlib.suppress(OSError):  # the hook, should it still wait
            os.close(os.open(hold, os.O_WRONLY | os.O_NONBLOCK))
    no_traceback(done)
    assert done.code == 130
    assert done.err == INTERRUPTED
    delivered = first.read_text()
    second = OTHER if delivered == ILS else ILS
    shown = os.read(reader, 1 << 20).decode()
    assert f"Released by customs {delivered}" in shown
    assert f"Released by customs {second}" in shown  # printed, but its hook never finished
    again = cli("watch", "--once")
    assert again.code == 0
    assert f"Released by customs {second}" in again.out  # not lost
    assert delivered not in again.out  # not told twice
    assert cli("watch", "--once").out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["track", "--json", ILS],  # ILS alone, plain http: the lean path (quick.py)
        ["track", "--jsonl", ILS],
        ["track", "--save", ILS],  # the model path, with the store open
    ],
    ids=["lean json", "lean jsonl", "model save"],
)
def test_ctrl_c_while_track_waits_for_the_carrier(
    sandbox: Sandbox, cli: Any, forker: ForkServer, argv: list[str]
) -> None:
    sandbox.inject("hang@ils")
    child = forker.start(*argv, "--timeout", "60", preexec=sigint.HEARD_IN_CHILD)
    wait_for_request(sandbox, "ils")
    done = interrupt(forker, child)
    no_traceback(done)
    assert done.code == 130
    assert done.err.endswith(INTERRUPTED)
    assert done.err.count("\n") <= 2  # at most a note on what was answered, then that line
    sandbox.inject("")
    listed = cli("list")  # the store is fine; the interrupted save left nothing half-done
    assert listed.code == 0
    assert cli("track", "--save", ILS).code == 0
    assert ILS in cli("list").out


def test_ctrl_c_before_the_cli_is_loaded(tmp_path: Path) -> None:
    # A fresh interpreter whose import of the CLI (Typer) meets the Ctrl-C.
    probe = textwrap.dedent(
        """
        import sys

        class Interrupt:
            def find_spec(self, name, path=None, target=None):
                if name == "typer":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, Interrupt())
        sys.argv = ["waypost", "list"]
        from waypost.__main__ import main
        sys.exit(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 130
    assert done.stderr == INTERRUPTED
