"""The run's environment, built once per invocation by ``main()`` and handed to every command.

Modelled on httpie's ``Environment``: the standard streams (made safe for any text and any
state), whether they are terminals, the colour choice, the width, the display zone, the clock,
the merged global options and the configuration. Commands receive it as ``ctx.obj`` and never
read process globals themselves, so a test can build one around its own streams.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waypost.errors import StoreError, UsageError, WaypostError

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.quick_tm import Clock
    from waypost.render import Terminal


class Env:
    """Streams, terminal facts, clock, global options and configuration of one run."""

    # A plain class, not a dataclass: generating a dataclass's methods costs more start-up
    # than `waypost --help` has to spare.
    def __init__(
        self,
        *,
        stdout: Any = None,
        stderr: Any = None,
        stdin: Any = None,
        environ: Mapping[str, str] | None = None,
        now: datetime | None = None,
        secrets: list[str] | None = None,
    ) -> None:
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self.stdin = sys.stdin if stdin is None else stdin
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.now = datetime.now(UTC) if now is None else now
        # The lean paths' rate permits count and wait on this (a test's virtual clock).
        self.clock: Clock = time
        self.config_path: Path | None = None
        self.timeout = 20.0
        self.no_color = False
        self.color = "auto"
        self.quiet = False
        self.verbose = 0
        self.debug = False
        self.secrets: list[str] = [] if secrets is None else secrets
        self._config: Config | None = None

    @classmethod
    def from_process(cls) -> Env:
        """The environment of this process (call after ``prepare_streams``)."""
        env = cls()
        env.debug = env.environ.get("WAYPOST_DEBUG", "") not in ("", "0")
        return env

    @staticmethod
    def of(ctx: Any) -> Env:
        """The Env ``main()`` handed to the command through the Click context."""
        env: Env = ctx.ensure_object(Env)
        return env

    @property
    def stdout_tty(self) -> bool:
        """True when standard output is a terminal."""
        return isatty(self.stdout)

    @property
    def stderr_tty(self) -> bool:
        """True when standard error is a terminal."""
        return isatty(self.stderr)

    @property
    def stdin_tty(self) -> bool:
        """True when standard input is a terminal (hidden input needs one)."""
        return isatty(self.stdin)

    @property
    def width(self) -> int | None:
        """The width to wrap plain text at, or None when standard output is not a terminal."""
        if not self.stdout_tty:
            return None
        from waypost.render import terminal_width

        return terminal_width(self.environ, self.stdout, self.stderr)

    def merge(
        self,
        config: Path | None,
        timeout: float | None,
        no_color: bool,
        verbose: int,
        quiet: bool = False,
        color: str | None = None,
        debug: bool = False,
    ) -> Env:
        """Fold in global options given to the root or to a subcommand."""
        if config is not None:
            self.config_path = config
            self._config = None
        if timeout is not None:
            self.timeout = timeout
        self.no_color = self.no_color or no_color
        self.quiet = self.quiet or quiet
        self.debug = self.debug or debug
        if color is not None:
            self.color = color
        if verbose:
            self.verbose = max(self.verbose, verbose)
            from waypost import logs

            logs.setup(self.verbose, self.redact)
        return self

    def config(self) -> Config:
        """The merged configuration; warnings go to stderr once."""
        if self._config is None:
            from waypost import config as cfg

            self._config = cfg.load(self.config_path)
            self.secrets = self._config.secrets()
            for warning in self._config.warnings:
                self.say(f"warning: {warning}")
        return self._config

    def reload_config(self) -> Config:
        """Read the configuration again (after this run changed the file)."""
        self._config = None
        return self.config()

    def config_file(self) -> Path:
        """Where the config file is (it may not exist yet)."""
        from waypost.paths import config_path

        return config_path(self.config_path)

    def terminal(self, tz: str | None = None) -> Terminal:
        """The output environment of this run, for render."""
        import dataclasses

        from waypost.render import Terminal

        term = Terminal.detect(
            no_color=self.no_color,
            color=self.color,
            tz=zone(tz) if tz else None,
            env=self.environ,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        return dataclasses.replace(term, now=self.now)

    def redact(self, text: str) -> str:
        """``text`` with every known secret masked."""
        from waypost.redaction import redact

        return redact(text, self.secrets)

    def err(self, message: str) -> None:
        """One line to stderr, secrets masked, carrier text made harmless (``safe.lines``)."""
        from waypost import safe

        self.stderr.write(safe.lines(self.redact(message)) + "\n")

    def say(self, message: str) -> None:
        """A note, hint or warning on stderr; ``-q`` keeps only errors."""
        if not self.quiet:
            self.err(message)

    def read_stdin(self) -> str:
        """Standard input, as text (for ``-``): all of it, or as far as it holds more numbers
        than a run takes (``inputs.MAX_NUMBERS``: `yes NUMBER | waypost track -` ends)."""
        from waypost import inputs

        if self.stdin is None or self.stdin.closed:
            raise UsageError("`-` given but standard input is closed")
        parts: list[str] = []
        found, line, size = 0, "", 0  # numbers on the whole lines read, the line being read
        try:
            while found <= inputs.MAX_NUMBERS:
                chunk = str(self.stdin.read(STDIN_CHUNK))
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
                whole, newline, line = (line + chunk).rpartition("\n")
                # A number and its separator take two characters at least: below that size
                # there cannot be too many, and nothing needs counting.
                if newline and size > 2 * inputs.MAX_NUMBERS:
                    found += inputs.count(whole)
                if size > MAX_STDIN:
                    raise UsageError(
                        f"standard input is longer than {MAX_STDIN >> 20} MiB"
                        f" (a run takes at most {inputs.MAX_NUMBERS:,} numbers)"
                    )
                if len(line) > MAX_STDIN_LINE:
                    raise UsageError(
                        f"standard input has a line longer than {MAX_STDIN_LINE >> 20} MiB"
                        " (numbers go one or a few to a line)"
                    )
        except UnicodeDecodeError as exc:
            raise UsageError(f"standard input is not UTF-8 text ({exc.reason})") from None
        except OSError as exc:  # a terminal hung up (EIO), a descriptor not open for reading
            raise WaypostError(f"cannot read standard input: {exc.strerror or exc}") from None
        return "".join(parts)

    def busy_timeout(self) -> float:
        """How long to wait for another writer of the store."""
        from waypost.paths import busy_timeout

        if self._config is not None:
            return self._config.busy_timeout
        return busy_timeout(self.config_path)

    def store(self, required: bool) -> Any:
        """The store ([store] url, else SQLite); without ``required``, a broken store only costs
        the caches.

        It waits up to ``[store] busy_timeout`` for another writer, then fails with exit 5.
        """
        from waypost.store import open_store

        try:
            return open_store(
                self._config, timeout=self.busy_timeout(), config_file=self.config_path
            )
        except StoreError as exc:
            if required:
                raise
            self.say(f"warning: {exc.message}; going on without the cache")
            return None

    def cache(self, store: Any = None) -> Any:
        """A lookup cache over the store that never waits for it nor fails because of it."""
        from waypost.paths import data_dir
        from waypost.store import StoreCache, backend_url, open_store

        opener = None
        if store is None and backend_url(self._config, self.config_path):  # PostgreSQL: shared

            def opener() -> Any:
                return open_store(
                    self._config, timeout=self.busy_timeout(), config_file=self.config_path
                )

        return StoreCache(data_dir(), store, warn=self.err, opener=opener)


# Standard input is read this many characters at a time; it may not be longer than MAX_STDIN
# (`yes ''` never ends), nor any line of it than MAX_STDIN_LINE (/dev/zero has none), which
# still holds the most numbers a run takes, each as long as a number may be (`echo $(cat f)`).
STDIN_CHUNK = 1 << 20
MAX_STDIN = 1 << 28
MAX_STDIN_LINE = 1 << 23


def zone(name: str) -> Any:
    """The IANA zone ``name``; a UsageError when there is none by that name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def isatty(stream: Any) -> bool:
    """True when ``stream`` is a terminal (False for None, closed or odd streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# What a shell reports for a process killed by SIGPIPE (128 + 13), as `git log | head -1` does.
EXIT_PIPE = 141


class PipeClosed(Exception):
    """The reader of standard output went away; not an OSError, so click does not catch it."""


def _escape(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what the stream cannot encode becomes ``\\uXXXX`` (as JSON escapes it:
    a JSON document stays valid and exact, a table stays readable)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    from waypost.safe import as_typed, escaped

    return "".join(escaped(c) for c in as_typed(exc.object[exc.start : exc.end])), exc.end


class Output:
    """Standard output of a run: a closed pipe or a failed write is an error click passes on."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        # Unbuffered (`python -u`, PYTHONUNBUFFERED): the text stream hands each write to a raw
        # file that may take only part of it (a pipe whose reader leaves mid-write), and drops
        # the rest without a word; such writes are encoded and written out here instead.
        raw = getattr(stream, "buffer", None)
        self._raw = raw if isinstance(raw, io.RawIOBase) else None

    def write(self, text: str) -> int:
        """Write all of ``text``, or raise PipeClosed / OutputError."""
        if self._stream is None:
            raise _closed()
        try:
            if self._raw is not None:
                return self._write_raw(text)
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise PipeClosed from None
        except (OSError, ValueError) as exc:
            raise _failed(exc) from None

    def _write_raw(self, text: str) -> int:
        """Write ``text`` to the raw file under the text stream, looping over partial writes."""
        assert self._raw is not None
        self._stream.flush()  # anything the text stream still holds goes first
        if os.linesep != "\n":
            text = text.replace("\n", os.linesep)
        data = memoryview(text.encode(self._stream.encoding, self._stream.errors or "strict"))
        while data:
            written = self._raw.write(data)
            if written is None:  # a non-blocking descriptor that is full: wait until it drains
                import select

                select.select([], [self._raw], [])
                continue
            data = data[written:]
        return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each line."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush, or raise PipeClosed / OutputError."""
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise PipeClosed from None
        except (OSError, ValueError) as exc:
            raise _failed(exc) from None

    def isatty(self) -> bool:
        """True on a terminal."""
        return self._stream is not None and isatty(self._stream)

    def fileno(self) -> int:
        """The file descriptor (none when standard output was closed)."""
        if self._stream is None:
            import io

            raise io.UnsupportedOperation("standard output is closed")
        return int(self._stream.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _closed() -> WaypostError:
    from waypost.errors import OutputError

    return OutputError(
        "cannot write the output: standard output is closed",
        hint="run waypost with its output going somewhere (a file, a pipe, /dev/null)",
    )


def _failed(exc: OSError | ValueError) -> WaypostError:
    from waypost.errors import OutputError

    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputError(f"cannot write the output to standard output: {reason}")


def prepare_streams() -> None:
    """Make the standard streams safe for any text and any state (closed, a full disk)."""
    import codecs
    import contextlib

    stdout_closed = sys.stdout is None
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            # A closed standard descriptor would be reused by the next file opened (the
            # database, a lock): /dev/null holds its place.
            with contextlib.suppress(OSError):
                os.open(os.devnull, os.O_RDWR)
            stdout_closed = stdout_closed or fd == 1
    codecs.register_error("waypost.escape", _escape)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="waypost.escape")  # type: ignore[union-attr]
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the whole run)
    sys.stdout = Output(None if stdout_closed else sys.stdout)


def quiet_stdout() -> None:
    """Point file descriptor 1 at /dev/null (its reader is gone; the final flush must not fail)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
