"""The one redaction rule for everything waypost prints or logs (SPEC.md: secrets never reach
stdout, stderr, logs or hooks).

``redact(text, secrets)`` replaces every known secret value, and masks what looks secret inside
any URL in ``text``: a userinfo password (``json://user:****@host``), the secret-named query
values (``?token=****``), and for notification services (``tgram://``, ``discord://``, every
scheme that is not a plain web address) the token-like host and every path segment, which is
where Apprise URLs carry their tokens (``tgram://****/****``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "****"
# Shorter values are not secrets worth masking, and masking them would garble every message.
MIN_SECRET = 4

# Schemes whose host and path are an address, not a credential.
WEB_SCHEMES = frozenset(
    {"http", "https", "json", "jsons", "xml", "xmls", "form", "forms", "postgres", "postgresql"}
)
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://([^\s'\"<>]*)")
_SENTENCE_END = ".,:;!?)]}"
_SECRET_NAME = re.compile(r"token|key|secret|pass|pwd|auth|sig|credential|pdd", re.IGNORECASE)


def secret_named(key: str) -> bool:
    """True when a key's name says it holds a secret (token, key, password, ILS's pdd, ...)."""
    return bool(_SECRET_NAME.search(key))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every secret part of a URL masked."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    if "://" not in text:
        return text
    return _URL.sub(_mask_url, text)


def _mask_url(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    # Punctuation that ends the URL's sentence ("... mysql://h/db: it failed") is the
    # sentence's, not a path's to mask: kept as it is, also when a masked message is masked
    # again (an error's text, then the line it is printed in).
    kept = rest.rstrip(_SENTENCE_END)
    return _masked(scheme, kept) + rest[len(kept) :]


def _masked(scheme: str, rest: str) -> str:
    web = scheme.lower() in WEB_SCHEMES
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        userinfo = f"{user}:{MASK}" if colon and user else MASK
    if not web and host and not _is_hostname(host):
        host = MASK
    path, qmark, query = tail.partition("?")
    if not web:
        path = "/".join(
            MASK if segment and segment != MASK else segment for segment in path.split("/")
        )
    if qmark:
        query = re.sub(r"([^&;=]+)=([^&;#]*)", _mask_pair, query)
    return f"{scheme}://{userinfo}{at}{host}{path}{qmark}{query}"


def _mask_pair(match: re.Match[str]) -> str:
    key, value = match.group(1), match.group(2)
    return f"{key}={MASK}" if value and _SECRET_NAME.search(key) else match.group()


def _is_hostname(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name == "localhost" or name.startswith("[") or "." in name
