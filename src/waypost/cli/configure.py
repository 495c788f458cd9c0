"""``config path|show|set|unset|init``: the configuration file (SPEC.md, "Configuration").

The ``config show`` document is built in ``render_plain``; the file is read and written by
``config``.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from waypost.cli.env import Env
from waypost.cli.options import (
    global_options,
)
from waypost.errors import ConfigError, UsageError, WaypostError

app = typer.Typer(
    help="Show and edit the configuration file.",
    no_args_is_help=True,
    epilog="Examples:\n\n  waypost config init\n\n"
    "  waypost config set carriers.trackingmore.api_key\n\n  waypost config show",
)


@app.callback()
@global_options
def config_root(
    ctx: typer.Context,
) -> None:
    """Show and edit the configuration file."""
    Env.of(ctx)


@app.command("path", epilog='Example:\n\n  $EDITOR "$(waypost config path)"')
@global_options
def config_path(
    ctx: typer.Context,
) -> None:
    """Print where the config file is (it may not exist yet)."""
    env = Env.of(ctx)
    env.stdout.write(f"{env.config_file()}\n")


@app.command(
    "show",
    epilog="Examples:\n\n  waypost config show\n\n  waypost config show --json | jq .carriers.ils",
)
@global_options
def config_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the merged configuration, every secret masked."""
    from waypost.render_plain import config_document

    env = Env.of(ctx)
    cfg = env.config()
    env.stdout.write(config_document(cfg, env.secrets, as_json=as_json) + "\n")


@app.command(
    "set",
    epilog="Examples:\n\n  waypost config set carriers.ils.pdd          # prompts, input hidden\n\n"
    "  waypost config set carriers.ils.user_id 1\n\n  waypost config set watch.interval 15m",
)
@global_options
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. carriers.ils.pdd.")],
    value: Annotated[
        str | None,
        typer.Argument(
            help="New value; omit it to be prompted (input hidden).", show_default=False
        ),
    ] = None,
) -> None:
    """Set one key; without VALUE, prompt for it with hidden input."""
    from waypost import config as cfg

    env = Env.of(ctx)
    path = env.config_file()
    spec = cfg.known_keys().get(key)
    if spec is None:
        raise ConfigError(
            f"unknown key {key!r}", hint=cfg.unknown_key_hint(key, list(cfg.known_keys()))
        )
    secret = getattr(spec, "secret", False)
    if value is None:
        nothing = f"no value given for {key}; nothing was changed"
        how = f"type it at the prompt, or give it: `waypost config set {key} VALUE`"
        value = cfg.clean(ask(env, f"{key}: ", hide=env.stdin_tty, eof=nothing, hint=how))
        if not value:
            raise UsageError(nothing, hint=f"{how}; `waypost config unset {key}` removes it")
    if secret:
        env.secrets.append(value)
    cfg.set_value(path, key, value)
    shown = cfg.mask(value) if secret else value
    env.say(f"set {key} = {shown} in {path}")


@app.command("unset", epilog="Example:\n\n  waypost config unset carriers.pandapon.rate")
@global_options
def config_unset(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. carriers.ils.pdd.")],
) -> None:
    """Remove one key from the file."""
    from waypost import config as cfg

    env = Env.of(ctx)
    path = env.config_file()
    if cfg.unset_value(path, key):
        env.say(f"removed {key} from {path}")
    else:
        env.say(f"{key} was not set in {path}")


@app.command("init", epilog="Example:\n\n  waypost config init && waypost carriers")
@global_options
def config_init(
    ctx: typer.Context,
    check: Annotated[
        bool | None,
        typer.Option(
            "--check/--no-check",
            help="Check the credentials with one real request per carrier (default: ask on "
            "a terminal).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Ask for each carrier's credentials (Enter skips; secrets are not echoed)."""
    from waypost import carriers as registry
    from waypost import config as cfg

    env = Env.of(ctx)
    path = env.config_file()
    data: dict[str, Any] = {}
    if path.exists():
        data, _ = cfg.read_file(path)
    _check_writable(path)
    nothing = f"the input ended before the last question; nothing was saved to {path}"
    skip = "an empty line skips a question; `waypost config set KEY VALUE` sets one key"
    sections = data.get("carriers", {})
    answers: dict[str, dict[str, str]] = {}
    env.err(f"Configuring {path} (press Enter to skip or keep a value).")
    changed: list[str] = []
    for info in registry.infos():
        env.err(f"\n{info.title} ({info.name}): {info.coverage}")
        if info.credentials_from:
            env.err(f"  where to get them: {info.credentials_from}")
        current = sections.get(info.name, {})
        for s in info.credentials:
            old = current.get(s.key)
            shown = (cfg.mask(str(old)) if s.secret else str(old)) if old else ""
            label = f"  {s.key} ({s.help})" + (f" [{shown}]" if shown else "")
            hide = s.secret and env.stdin_tty
            answer = cfg.clean(ask(env, f"{label}: ", hide=hide, eof=nothing, hint=skip))
            if answer and s.secret:
                env.secrets.append(answer)
            if answer:
                answers.setdefault(info.name, {})[s.key] = answer
                changed.append(info.name)
        for s in (s for s in info.settings if s.choices):
            now = str(current.get(s.key) or s.default or s.choices[0])
            label = f"  {s.key} ({s.help}; {' or '.join(s.choices)}) [{now}]"
            while (
                answer := cfg.clean(ask(env, f"{label}: ", hide=False, eof=nothing, hint=skip))
            ) and (answer not in s.choices):
                env.err(f"  {s.key} must be one of {', '.join(s.choices)}")
            if answer:
                answers.setdefault(info.name, {})[s.key] = answer

    def apply(fresh: dict[str, Any]) -> None:
        for name, values in answers.items():
            fresh.setdefault("carriers", {}).setdefault(name, {}).update(values)

    cfg.update(path, apply)
    env.err(f"\nsaved {path} (mode 600)")
    fresh = env.reload_config()
    ready = [n for n in dict.fromkeys(changed) if fresh.configured(n)]
    if not ready:
        return
    if check is None:
        check = env.stdin_tty and typer.confirm(
            f"Check {', '.join(ready)} now with one real request each?", default=True, err=True
        )
    if check:
        _check_credentials(env, ready)
    elif hints := [h for h in map(_check_hint, ready) if h]:
        env.say(f"hint: check them any time: {'; '.join(hints)}")


def ask(env: Env, label: str, *, hide: bool, eof: str, hint: str | None = None) -> str:
    """One prompt on stderr and the line answered; the end of input is the UsageError ``eof``.

    Ctrl-C stays an interrupt (exit 130); the prompt's line is ended first either way.
    """
    import getpass

    env.stderr.write(label)
    env.stderr.flush()
    try:
        answer = getpass.getpass("", stream=env.stderr) if hide else input()
    except EOFError:
        env.stderr.write("\n")
        raise UsageError(eof, hint=hint) from None
    except KeyboardInterrupt:
        env.stderr.write("\n")
        raise
    if not env.stdin_tty:  # nothing echoed the answer's end of line
        env.stderr.write("\n")
    return answer


def _check_writable(path: Path) -> None:
    """Refuse, before any question, a config file that could not be written."""
    import os
    import tempfile

    from waypost import config as cfg

    with cfg.locked(path):  # refuses a directory or a device, creates the directory
        target = path.resolve() if path.is_symlink() else path
        try:
            fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except OSError as exc:
            raise ConfigError(
                f"cannot write the config file {path}: {exc.strerror or exc}; nothing was asked",
                hint="check the directory's permissions, or point --config or WAYPOST_CONFIG "
                "at a writable place",
            ) from None
        os.close(fd)
        os.unlink(probe)


def _check_hint(name: str) -> str | None:
    """The command that checks carrier ``name``'s credentials with one real request."""
    from waypost import carriers as registry
    from waypost import quota

    if name == quota.ACCOUNT or registry.supports(name, "check"):
        return f"`waypost carriers --check {name}`"
    patterns = registry.info(name).patterns
    return f"`waypost track {name}:{patterns[0].example}`" if patterns else None


def _check_credentials(env: Env, names: list[str]) -> None:
    """One real request per carrier: its first documented example number."""
    from waypost import carriers as registry
    from waypost import service
    from waypost.carriers.base import Query
    from waypost.errors import AuthError

    conf = env.config()
    for name in names:
        info = registry.info(name)
        if not info.patterns:
            continue
        example = info.patterns[0]
        query = Query(example.example, name, example.courier_for(example.example))
        try:
            report = service.run_blocking([query], conf, timeout=env.timeout)
        except WaypostError as exc:
            env.err(f"  {name}: could not check: {exc.message}")
            continue
        failure = report.results[0].failure
        if isinstance(failure, AuthError):
            env.err(f"  {name}: credentials rejected: {failure.message}")
        elif failure is not None:
            env.err(f"  {name}: could not check ({failure.message}); the credentials are saved")
        else:
            env.err(f"  {name}: credentials accepted")
