"""Carrier text made safe for people: the "Carrier data is data" rule of SPEC.md.

Text a carrier sends (and, through it, couriers and sellers) is shown, never obeyed. Before it
reaches a terminal, a TSV line, a notification or a hook's environment it goes through
``field`` (one value on one line) or ``lines`` (a message that keeps its own line breaks):

- whole escape sequences (CSI, OSC, DCS, SOS, PM, APC, in their 7-bit ``ESC`` and 8-bit C1
  forms) become one visible ``␛``; so does a lone ``ESC``;
- line breaks, tabs and CR inside one field fold to one space;
- every other C0 control is shown as its control picture (NUL as ``␀``), DEL as ``␡``;
- other C1 controls, lone surrogates and bidi overrides become ``�`` (after the bytes an ASCII
  locale kept as surrogates are read as the UTF-8 they were typed in, ``as_typed``).

Printable text in any script is left exactly as it was. ``--json`` never goes through here.
A table bound for an output that cannot carry a character (a non-UTF-8 locale) gets it as
``\\uXXXX`` from ``encodable`` before it is measured, as the standard streams would escape it.
"""

from __future__ import annotations

import re
from typing import Any

ESCAPE_MARK = "\u241b"  # ␛
REPLACEMENT = "\ufffd"

# Characters that need work; text without any of them is returned as it is. Printable ASCII
# holds none, so this is compiled (by ``re``, on first use) only once other text is shown.
_DANGER = "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]"
# The patterns below are needed only once a text holds one of those: they stay source text, and
# ``re`` compiles (and caches) each on first use, so importing this module stays cheap.
# Control strings end at BEL, ST (ESC \) or 8-bit ST; an unterminated one is not a whole sequence
# (the introducer alone is then replaced and the rest stays visible as text).
_SEQUENCE = (
    "(?:\x1b[\\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x00-\x08\x0a-\x1f\x7f-\x9f]*(?:\x07|\x1b\\\\|\x9c)"
    "|(?:\x1b\\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    "|\x1b[\x20-\x2f]*[\x30-\x7e]?"
    "|[\x90\x98\x9d\x9e\x9f]"
)
_FOLD = "(?:\r\n|[\t\n\v\f\r\x85\u2028\u2029])+"
_FOLD_KEEP_NL = "(?:[\t\v\f\r\x85\u2028\u2029])+"
_REST = "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
# Bytes above 0x7f that an ASCII locale decoded with ``surrogateescape``.
_BYTE = "[\udc80-\udcff]"
_BYTES = _BYTE + "+"
_REST_KEEP_NL = "[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT


def _clean(text: str, fold: str, rest: str) -> str:
    text = re.sub(_SEQUENCE, ESCAPE_MARK, as_typed(text))
    text = re.sub(fold, " ", text)
    return re.sub(rest, _picture, text)


def as_typed(text: str) -> str:
    """``text`` with the bytes an ASCII locale (C, POSIX) kept as lone surrogates (of the command
    line, an environment variable, a file name) decoded as the UTF-8 they were typed in; bytes
    that are not UTF-8 stay surrogates."""
    if re.search(_BYTE, text) is None:
        return text
    return re.sub(_BYTES, _typed, text)


def _typed(match: re.Match[str]) -> str:
    return match.group().encode("ascii", "surrogateescape").decode("utf-8", "surrogateescape")


def argument(text: str | None) -> str | None:
    """Text given on the command line, fit to be stored: ``as_typed``, then what is still no text
    (bytes that are not UTF-8, kept as lone surrogates) as U+FFFD."""
    if text is None or text.isascii():
        return text
    return re.sub(_SURROGATE, REPLACEMENT, as_typed(text))


def field(text: object) -> str:
    """One value for one line of human output (a table cell, a TSV column, a variable)."""
    if text is None or text == "":
        return ""
    if not isinstance(text, str):
        text = str(text)
    if (text.isascii() and text.isprintable()) or re.search(_DANGER, text) is None:
        return text
    return _clean(text, _FOLD, _REST)


def lines(text: str) -> str:
    """A message that keeps its own line breaks (``\\n``), every other control made harmless."""
    if (text.isascii() and text.isprintable()) or re.search(_DANGER, text) is None:
        return text
    return _clean(text.replace("\r\n", "\n"), _FOLD_KEEP_NL, _REST_KEEP_NL)


_SURROGATE_ESCAPE = rb"\\u[dD][89a-fA-F]"
_SURROGATE = "[\ud800-\udfff]"


def no_surrogates(body: bytes, value: Any) -> Any:
    """``value`` decoded from JSON ``body`` with lone surrogates (``"\\ud800"``, which no UTF-8
    output can carry) replaced by ``�``; everything else stays exactly as sent."""
    if re.search(_SURROGATE_ESCAPE, body) is None:
        return value
    return _replace_surrogates(value)


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return re.sub(_SURROGATE, REPLACEMENT, value)
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def link(url: str | None) -> str | None:
    """``url`` when it may become a terminal hyperlink (clean http/https), else None."""
    if not url or len(url) > 2048 or not url.isascii() or not url.isprintable():
        return None
    if any(c in url for c in ' "<>\\^`{|}'):
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def escaped(char: str) -> str:
    """``char`` as ``\\uXXXX`` (a pair of them above U+FFFF, as JSON escapes it)."""
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def encodable(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot carry as ``escaped``, so that a table measures what
    the output will hold."""
    if text.isascii() or encoding.lower().replace("_", "-").startswith("utf"):
        return text
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        pass
    except LookupError:
        return text
    else:
        return text
    out = []
    for char in text:
        try:
            char.encode(encoding)
        except UnicodeEncodeError:
            out.append(escaped(char))
        else:
            out.append(char)
    return "".join(out)
