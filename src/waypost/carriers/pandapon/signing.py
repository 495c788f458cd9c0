"""PandaPon request signing: the candidate recipes and the ``signature`` setting.

PandaPon's "Development manual" (https://doc-en.pandapon.com/doc-6055770) lists the system
headers (``access-key``, ``timestamp``, ``nonce-str``, ``user-id``, ``signature``), says that only
``access-key``, ``timestamp`` and ``nonce-str`` are signed, and shows a 32-character upper-case
signature beside a 13-digit (millisecond) timestamp. The string that is hashed is not published,
so two candidates are kept, in the order ``auto`` tries them:

``pairs``
    ``MD5("access-key=<ak>&nonce-str=<nonce>&timestamp=<ms>&secret=<secret>")``, the signed
    fields as ``k=v`` in ASCII order, then the secret; millisecond timestamp (waypost's first
    guess, consistent with the manual's sample header set).
``concat``
    ``MD5(<ak> + <timestamp> + <nonce> + <secret>)`` with the timestamp in **seconds**: what the
    one public client found that sends exactly these headers does (a React Native app calling
    PandaPon's ``/alibaba/product/...`` endpoints; public-code index id 32211568063, see
    ``tests/fixtures/pandapon/README.md``).

Both are upper-case hex. Nothing here does I/O: the adapter picks a recipe, this module signs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

RecipeName = Literal["pairs", "concat"]
RECIPES: tuple[RecipeName, ...] = ("pairs", "concat")
AUTO = "auto"
CHOICES: tuple[str, ...] = (AUTO, *RECIPES)
# The cache namespace where ``auto`` remembers the recipe an account accepted.
STATE_NAMESPACE = "pandapon.signature"


@dataclass(frozen=True)
class Recipe:
    """One way of turning the signed headers and the secret into ``signature``."""

    name: RecipeName
    describe: str
    unit: Literal["ms", "s"]

    def timestamp(self, clock: Callable[[], float] = time.time) -> str:
        """The ``timestamp`` header this recipe signs, from a Unix time in seconds."""
        now = clock()
        return str(int(now * 1000)) if self.unit == "ms" else str(int(now))

    def base(self, access_key: str, secret: str, timestamp: str, nonce: str) -> str:
        """The string that is hashed (it holds the secret: never log it)."""
        if self.name == "concat":
            return access_key + timestamp + nonce + secret
        return f"access-key={access_key}&nonce-str={nonce}&timestamp={timestamp}&secret={secret}"

    def sign(self, access_key: str, secret: str, timestamp: str, nonce: str) -> str:
        """``UPPER(HEX(MD5(base)))``."""
        import hashlib  # here: the declared facts (``config show``) need no OpenSSL

        digest = hashlib.md5(self.base(access_key, secret, timestamp, nonce).encode("utf-8"))  # noqa: S324 (the API's choice)
        return digest.hexdigest().upper()


BY_NAME: dict[str, Recipe] = {
    "pairs": Recipe("pairs", "MD5 of access-key=..&nonce-str=..&timestamp=..&secret=.. (ms)", "ms"),
    "concat": Recipe("concat", "MD5 of access key + timestamp + nonce + secret (seconds)", "s"),
}


def parse_setting(value: object) -> str:
    """``carriers.pandapon.signature`` normalised: ``auto`` or a recipe name; ValueError else."""
    text = str(value if value is not None else AUTO).strip().lower() or AUTO
    if text not in CHOICES:
        raise ValueError(f"unknown signature recipe {value!r} (one of: {', '.join(CHOICES)})")
    return text


def state_key(access_key: str) -> str:
    """The state-store key of one account: a hash of its access key, never the key itself."""
    import hashlib

    return hashlib.sha256(access_key.encode("utf-8")).hexdigest()[:32]


class Chooser:
    """Which recipe the next request uses, and which one to try after a "signature invalid".

    ``auto`` starts with the remembered recipe (else the first candidate) and moves on only on
    ``rejected()``, at most once per candidate in one run; a pinned recipe never moves.
    """

    def __init__(self, setting: str, remembered: str | None = None) -> None:
        self.pinned = setting != AUTO
        start = setting if self.pinned else (remembered if remembered in BY_NAME else RECIPES[0])
        self.current: Recipe = BY_NAME[start]
        self.tried: list[str] = [self.current.name]
        self.accepted: str | None = None
        self.remembered = remembered

    @property
    def order(self) -> list[str]:
        """The candidates in the order ``auto`` tries them, starting with the current one."""
        return [self.current.name, *(n for n in RECIPES if n != self.current.name)]

    def rejected(self, used: str) -> bool:
        """The answer to a request signed with ``used`` said "signature invalid": True when
        another untried recipe is now current (retry), False when there is none left."""
        if self.pinned:
            return False
        if self.current.name != used:
            return True  # another request already moved on: retry with the new one
        for name in RECIPES:
            if name not in self.tried:
                self.tried.append(name)
                self.current = BY_NAME[name]
                return True
        return False

    def worked(self, used: str) -> bool:
        """A request signed with ``used`` was accepted; True the first time (to remember it)."""
        if self.accepted == used:
            return False
        self.accepted = used
        return True
