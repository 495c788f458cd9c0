"""The plain documents of the commands that must start quickly: ``list`` piped (TSV), ``config
show`` and ``carriers`` (SPEC.md, "Output"; ``render`` re-exports each of them).

Apart from ``render`` so that these commands load neither its ``Terminal`` and ``Format``
classes nor anything of Rich: they are given the clock, the display zone and the width as plain
values. Carrier text goes through ``safe.field`` as in every human output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import IO, TYPE_CHECKING, Any

from waypost import safe

if TYPE_CHECKING:
    from waypost.config import Config
    from waypost.store.rows import ListRow

# Below this fraction of a second a Unix time rounds (to microseconds) within its own second, so
# every time of that second has the same ISO text to the second.
_WITHIN_SECOND = 0.999
_NAIVE_EPOCH = datetime(1970, 1, 1)


def list_tsv(rows: Iterable[ListRow], now: datetime, tz: tzinfo | None, out: IO[str]) -> None:
    """``list`` for scripts: full text, ISO times (in ``tz``, else local), whole days since the
    first event (empty: none), one line per row, written as the rows come.

    ``render._first`` and ``render._iso`` written out for the row loop (the same arithmetic: a
    naive stored time is UTC, so its Unix time is its distance from the naive epoch). Labels,
    carriers, statuses and last events repeat, so each is made safe once; so are the day counts
    of each stored first-event text and the ISO text of each checked second."""
    stamp = now.timestamp()
    made: dict[Any, str] = {}
    events: dict[Any, str] = {}
    days_of: dict[Any, str] = {}
    second_of: dict[float, str] = {}
    field = safe.field

    def shown(text: Any) -> str:
        done = made.get(text)
        if done is None:
            done = made[text] = field(text)
        return done

    def last(text: Any) -> str:
        done = events.get(text)
        if done is None:
            done = events[text] = " ".join(field(text).split())
        return done

    lines = []
    for r in rows:
        raw = r.first_event_time
        days = "" if raw is None else days_of.get(raw)
        if days is None:
            days = days_of[raw] = _days(raw, stamp)
        checked = r.last_checked
        if checked is None:
            iso: str | None = ""
        else:
            second = checked // 1
            whole = checked - second < _WITHIN_SECOND
            iso = second_of.get(second) if whole else None
            if iso is None:
                iso = _iso_text(checked, tz)
                if whole:
                    second_of[second] = iso
        lines.append(
            f"{shown(r.label)}\t{field(r.number)}\t{shown(r.carrier)}\t{shown(r.status)}"
            f"\t{last(r.last_event)}\t{iso}\t{days}\n"
        )
        if len(lines) >= 1000:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))


def _days(raw: Any, now: float) -> str:
    """Whole days from the stored first-event time ``raw`` to ``now`` (empty: unreadable)."""
    try:
        first = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        return ""
    at = first.timestamp() if first.tzinfo is not None else (first - _NAIVE_EPOCH).total_seconds()
    return f"{round((now - at) / 86400, 1):.0f}"


def _iso_text(ts: float, tz: tzinfo | None) -> str:
    """Unix time ``ts`` as ISO text to the second, in ``tz`` (None: the local zone)."""
    if tz is not None:
        return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")
    return datetime.fromtimestamp(ts, UTC).astimezone().isoformat(timespec="seconds")


def _wrapped(out: IO[str], text: str, width: int | None, indent: int) -> None:
    """One line of plain output; on a terminal, wrapped between words (never inside a number)."""
    if width is None or len(text) <= width:
        out.write(text + "\n")
        return
    import textwrap

    lines = textwrap.wrap(
        text,
        width=width,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    out.write("\n".join(lines) + "\n")


def carriers_overview(
    rows: Sequence[Mapping[str, Any]], out: IO[str], width: int | None = None
) -> None:
    """``waypost carriers`` in plain text (wrapped at ``width`` on a terminal)."""

    def line(label: str, text: str) -> None:
        _wrapped(out, f"  {label + ':':<9}{text}", width, 11)

    for index, row in enumerate(rows):
        if index:
            out.write("\n")
        missing = row["missing"]
        state = "configured" if not missing else f"not configured: missing {', '.join(missing)}"
        _wrapped(out, f"{row['name']}  {row['title']}  [{state}]", width, 2)
        line("covers", row["coverage"])
        if row.get("api"):
            line("api", row["api"])
        line(
            "batch",
            f"up to {row['max_batch']} number(s) per request, "
            f"{row['max_connections']} requests in flight",
        )
        for key, value in row["rates_per_second"].items():
            line("rate", f"{key} = {value:g} requests/s")
        for note in row["rate_notes"]:
            line("note", note)
        for p in row["patterns"]:
            described = p["describe"]
            if p["check_digit"] and "check" not in described.lower():
                described += ", check digit"
            line("detects", f"{p['name']} ({described}), e.g. {p['example']}")
        if row.get("quota"):
            line("quota", quota_text(row["quota"]))
        if row.get("docs"):
            line("docs", row["docs"])
        if row.get("credentials_from") and missing:
            line("keys", row["credentials_from"])


def quota_text(quota: Mapping[str, Any]) -> str:
    """``1,234 trackings left (balance 5), as of 3 min ago``, or why it is not known."""
    if quota.get("told"):
        left = quota.get("remaining")
        text = f"{left:,} trackings left" if isinstance(left, int) else "remaining not told"
        balance = quota.get("balance")
        text += f" (balance {balance:g})" if isinstance(balance, int | float) else ""
        age = quota.get("age_seconds")
        return text + (f", as of {age_text(age)}" if isinstance(age, int | float) else "")
    return str(quota.get("why") or f"unknown: {quota.get('error')}")


def age_text(seconds: float) -> str:
    """``just now``, ``3 min ago``, ``5 h ago``, ``2 days ago``."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def dumps(value: Any) -> str:
    """Compact JSON for plain data (no pydantic needed)."""
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _value(value: Any) -> str:
    """``dumps(value)`` of one config value; the plain cases without loading ``json``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and value - value == 0:  # finite
        return float.__repr__(value)
    if isinstance(value, str) and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return dumps(value)


def config_document(config: Config, secrets: Sequence[str], *, as_json: bool) -> str:
    """``config show``: the merged configuration with where each value came from, every secret
    masked; as TOML-like text, or as JSON."""
    from functools import partial

    from waypost import carriers as registry
    from waypost.config import CARRIER_KEYS, mask, mask_urls

    shown: dict[str, Any] = {"carriers": {}}
    lines = [f"# {config.path}" + ("" if config.exists else " (does not exist)")]

    def section(name: str, values: dict[str, Any], secret: Callable[[str, Any], bool]) -> None:
        """One ``[name]`` table: every value with where it came from, secrets masked."""
        lines.append(f"\n[{name}]")
        for key, value in values.items():
            if secret(key, value):
                value = mask(str(value))
            source = config.sources.get(f"{name}.{key}", "")
            note = f"  # {source}" if source and source != "file" else ""
            lines.append(f"{key} = {_value(value)}{note}")

    for info in registry.infos():
        values = config.carrier(info.name)
        declared = {s.key for s in info.secrets}
        everyone = CARRIER_KEYS  # the keys every carrier takes (stalled_after)
        mine = {s.key: values[s.key] for s in (*info.settings, *everyone) if s.key in values}
        # A password inside base_url masked, the host kept readable (secrets get ``mask``).
        mine = {k: v if k in declared else mask_urls(v, list(secrets)) for k, v in mine.items()}
        section(f"carriers.{info.name}", mine, partial(_declared, declared))
        shown["carriers"][info.name] = {
            k: mask(str(v)) if k in declared else v for k, v in mine.items()
        }
    others = {
        "http": mask_urls(dict(config.http), list(secrets)),
        "watch": mask_urls(dict(config.watch), list(secrets)),
    }
    # [store] url keeps its host and database readable; only its password is masked.
    others["store"] = mask_urls(dict(config.store), list(secrets))
    # Any other table of the file too (newer sections), values that look secret masked.
    others.update(
        {
            name: dict(values)
            for name, values in config.file_data.items()
            if name not in ("carriers", "http", "watch", "store") and isinstance(values, dict)
        }
    )
    for name, values in others.items():
        secret = looks_secret if name != "store" else _masked_already
        section(name, values, secret)
        if not values:
            lines.append("# nothing set")
        shown[name] = {k: mask(str(v)) if secret(k, v) else v for k, v in values.items()}
    return dumps(shown) if as_json else "\n".join(lines)


def _declared(keys: set[str], key: str, _value: Any) -> bool:
    return key in keys


def _masked_already(_key: str, _value: Any) -> bool:
    return False


def looks_secret(key: str, value: Any) -> bool:
    """Keys of tables without declared secrets: a secret-looking name, or a value with a secret
    inside a URL (both by the one rule, ``redaction``)."""
    from waypost.redaction import redact, secret_named

    return secret_named(key) or (isinstance(value, str) and redact(value) != value)
