"""Carrier data is data: every class of hostile text in every text field of all three carriers,
through every human output (a real terminal via a pty, piped plain text, the `list` table and
TSV, notifications, hooks) and `--json`, which keeps it exactly."""

from __future__ import annotations

import json
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.forked import ForkServer
from tests.hostile import (
    ESCAPES,
    MARKUP,
    SHELL,
    SURROGATE,
    HostileServer,
    hostile_text,
    map_strings,
)
from tests.pty_forked import run_on_pty_forked
from waypost import notify, safe
from waypost.notify import HOOK_ENV

# Keys whose values are numbers, ids, codes, statuses and dates: kept so that parsing works.
KEEP = {
    # ILS
    "consignment",
    "date",
    "Despatch Date",
    "despatchdate",
    "Lastscan",
    "lastscan",
    # TrackingMore
    "tracking_number",
    "carrier_code",
    "status",
    "substatus",
    "checkpoint_status",
    # The legs' countries decide each checkpoint's zone: kept as sent so times compare exactly.
    "original_country",
    "destination_country",
    # TrackingMore v4 (the default API): codes, dates and countries
    "courier_code",
    "checkpoint_date",
    "checkpoint_delivery_status",
    "checkpoint_delivery_substatus",
    "delivery_status",
    "latest_checkpoint_time",
    "scheduled_delivery_date",
    "update_at",
    "origin_country",
    "courier_country_iso2",
    "archived",
    "code",
    "Date",
    "created_at",
    "updated_at",
    "order_create_time",
    "ItemReceived",
    "ArrivalfromAbroad",
    "lastUpdateTime",
    "id",
    "type",
    "message",
    "total",
    # PandaPon
    "acceptTime",
    "time",
    "logisticsStatus",
    "action",
    "mailNo",
    "logisticsBillNo",
    "logisticsId",
    "purchaseOrderOuterId",
    "developId",
    "requestId",
    "encrypt",
    "facilityType",
    "quantity",
    "areaCode",
    "zipCode",
    "facilityNo",
    "msg",
}
NUMBERS = [
    "ils:3676E4043665",
    "ils:3676E4038521",
    "trackingmore:RR050349575PH",
    "trackingmore:china-ems:LS912989618CN",
    "pandapon:2542285634920880794",
]
SHOWN = ["3676E4043665", "3676E4038521", "RR050349575PH", "LS912989618CN"]
LABEL = hostile_text("Shoes")
# Short enough to leave the numbers room in a 200-column `list` table.
SHORT_LABEL = "\x1b]52;c;QQ==\x07[/]\x00Shoes\r\n\x9b2J"
# The injected text, in the two pieces it is made of around each original value.
HEAD = "".join(ESCAPES[:4])
TAIL = "".join(ESCAPES[4:]) + "".join(MARKUP + SHELL)

SGR = re.compile(rb"\x1b\[[0-9;]*m")


def inject(hostile: HostileServer, *, surrogate: bool = False) -> None:
    """Every text field of every answer wrapped in every hostile class."""
    extra = SURROGATE if surrogate else ""
    hostile.rewrite(
        lambda carrier, path, payload: map_strings(
            payload, lambda s: hostile_text(s) + extra, keys=KEEP
        )
    )


def assert_harmless(data: bytes, *, allow_sgr: bool = False, structure: str = "\n") -> None:
    """No control byte but the line (or TSV) structure, no C1, no escape but colour if asked."""
    if allow_sgr:
        data = SGR.sub(b"", data)
    text = data.decode("utf-8")
    bad = sorted({f"U+{ord(c):04X}" for c in text if c not in structure and ord(c) < 0x20})
    assert bad == [], f"control characters reached the output: {bad}"
    assert not any(0x7F <= ord(c) <= 0x9F for c in text)
    assert "\x1b" not in text
    assert "]52;" not in text  # the clipboard write is gone, not just its ESC
    # No forged line: the injected "\r\n" never makes the fake event a line of its own.
    assert not re.search(r"^\s*FORGED 2026-01-01 delivered\s*$", text, re.M)


def assert_markup_literal(text: str) -> None:
    assert "[/]" in text
    assert "[link=file:///etc/passwd]x[/link]" in text
    assert "$(touch${IFS}/tmp/waypost-pwned)" in text


def run_pty(
    forker: ForkServer,
    args: list[str],
    *,
    columns: int = 120,
    color: bool = False,
    env: dict[str, str] | None = None,
) -> tuple[int, bytes, bytes]:
    """``waypost ARGS`` with stdout on a real terminal of ``columns`` (no COLUMNS), in a child
    forked from a warm interpreter (tests/pty_forked.py): the terminal is the point here, not
    the interpreter's start-up."""
    run = run_on_pty_forked(
        forker,
        *args,
        columns=columns,
        rows=40,
        timeout=60,
        color=color,
        env=env,
        keep_newlines=True,
    )
    return run.code, run.raw, run.raw_err


@pytest.mark.parametrize("color", [False, True], ids=["no-color", "color"])
def test_track_on_a_terminal(hostile: HostileServer, color: bool, forker: ForkServer) -> None:
    inject(hostile)
    code, out, err = run_pty(forker, ["track", *NUMBERS], color=color)
    assert code in (0, 1), err
    assert b"internal error" not in err
    assert_harmless(out, allow_sgr=color)
    assert_harmless(err)
    text = SGR.sub(b"", out).decode()
    assert_markup_literal(text)
    # file:// only ever inside the literal markup (a table may wrap it), never a link of its own.
    assert not re.findall(r"(?<!\[link=)file://", text)
    for number in SHOWN:
        assert number in text
    if color:
        assert SGR.search(out), "colour was asked for"


def test_clean_image_urls_stay_links_and_hostile_ones_do_not(
    hostile: HostileServer, forker: ForkServer
) -> None:
    # Only the image URLs are hostile here: one with an OSC 52 inside, one with a bad scheme.
    urls = iter(["https://img.example/ok.jpg", "javascript:alert(1)\x1b]52;c;QQ==\x07"] * 4)
    hostile.rewrite(
        lambda carrier, path, payload: map_strings(
            payload, lambda s: next(urls) if s.startswith("https://img.") else s
        )
    )
    code, out, _ = run_pty(forker, ["track", "ils:3676E4043665"], color=True)
    assert code == 0
    links = re.findall(rb"\x1b]8;[^;]*;([^\x1b\x07]*)", out)
    assert set(links) <= {b"https://img.example/ok.jpg", b""}
    assert b"https://img.example/ok.jpg" in links
    rest = re.sub(rb"\x1b]8;[^;]*;[^\x1b\x07]*(\x1b\\|\x07)", b"", SGR.sub(b"", out))
    assert_harmless(rest)
    assert "javascript:alert(1)␛" in rest.decode()


def test_track_piped_and_json(hostile: HostileServer, cli) -> None:  # type: ignore[no-untyped-def]
    clean = json.loads(cli("track", "--json", *NUMBERS).out)
    inject(hostile)
    plain = cli("track", "--refresh", *NUMBERS)  # not TrackingMore's cached clean answer
    assert plain.code in (0, 1), plain.err
    assert_harmless(plain.out.encode())
    assert_harmless(plain.err.encode())
    assert_markup_literal(plain.out)
    for number in SHOWN:
        assert number in plain.out
    # One line per event and header: nothing forged a line of its own.
    assert not any(line.startswith("FORGED") for line in plain.out.splitlines())

    doc = json.loads(cli("track", "--json", "--refresh", *NUMBERS).out)
    assert [s["tracking_number"] for s in doc["shipments"]] == [
        s["tracking_number"] for s in clean["shipments"]
    ]
    for before, after in zip(clean["shipments"], doc["shipments"], strict=True):
        assert [e["time"] for e in after["events"]] == [e["time"] for e in before["events"]]
        for old, new in zip(before["events"], after["events"], strict=True):
            # Exactly as the carrier sent it: every escape, NUL, newline and markup kept.
            assert new["description"] == hostile_text(old["description"])
            assert new["images"] == [hostile_text(u) for u in old["images"]]
            if old["location"]:
                assert HEAD in new["location"]
                assert TAIL in new["location"]
    # Lines end at "\n" only: U+0085 inside a string is valid JSON (str.splitlines would cut).
    lines = cli("track", "--jsonl", "--refresh", *NUMBERS).out.split("\n")

    # --jsonl streams in answer order; --json keeps input order.
    def key(s: dict[str, str]) -> tuple[str, str]:
        return s["carrier"], s["tracking_number"]

    streamed = sorted((json.loads(line) for line in lines if line), key=key)
    assert streamed == sorted(doc["shipments"], key=key)


def test_lone_surrogates_never_crash_and_are_replaced(hostile: HostileServer, cli) -> None:  # type: ignore[no-untyped-def]
    inject(hostile, surrogate=True)
    plain = cli("track", *NUMBERS)
    assert plain.code in (0, 1), plain.err
    assert "\ufffd" in plain.out
    doc = json.loads(cli("track", "--json", *NUMBERS).out)
    event = doc["shipments"][0]["events"][0]
    assert event["description"].endswith("\ufffd")
    assert HEAD in event["description"]


def test_list_on_a_terminal_and_as_tsv(
    hostile: HostileServer,
    cli,  # type: ignore[no-untyped-def]
    isolated: Path,
    forker: ForkServer,
) -> None:
    inject(hostile)
    saved = cli("track", "--save", "--label", SHORT_LABEL, *NUMBERS)
    assert saved.code in (0, 1), saved.err
    tsv = cli("list", "--all")
    assert tsv.code == 0, tsv.err
    assert_harmless(tsv.out.encode(), structure="\n\t")
    rows = tsv.out.splitlines()
    assert len(rows) >= len(SHOWN)
    assert all(row.count("\t") == 6 for row in rows), rows
    assert {row.split("\t")[1] for row in rows} >= set(SHOWN)
    assert all(row.split("\t")[0] == "␛[/]␀Shoes ␛" for row in rows)
    for color in (False, True):
        code, out, err = run_pty(forker, ["list", "--all"], color=color, columns=200)
        assert code == 0, err
        assert_harmless(out, allow_sgr=color)
        text = SGR.sub(b"", out).decode()
        assert "[/]" in text
        for number in SHOWN:
            assert number in text
    listed = json.loads(cli("list", "--all", "--json").out)["watched"]
    assert {item["label"] for item in listed} == {SHORT_LABEL}


class Receiver(ThreadingHTTPServer):
    """A loopback notification receiver: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


HOOK = """\
import json, os, sys
with open(sys.argv[1], "a", encoding="utf-8") as fh:
    fh.write(json.dumps({"env": dict(os.environ), "stdin": sys.stdin.read()}) + "\\n")
print("hook saw", os.environ["WAYPOST_NUMBER"], "\\x1b]0;hook title\\x07")
print("hook warns \\x1b[2J", file=sys.stderr)
"""


def test_watch_notifies_and_runs_hooks_harmlessly(
    hostile: HostileServer, cli, receiver: Receiver, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_for_hooks_0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws_not_for_hooks_0123456789")
    saved = cli("track", "--save", "--label", LABEL, *NUMBERS)
    assert saved.code in (0, 1), saved.err
    inject(hostile)  # every event now reads differently: all of it is news
    script, log = tmp_path / "hook.py", tmp_path / "hook.log"
    script.write_text(HOOK)
    url = f"json://127.0.0.1:{receiver.server_address[1]}/"
    r = cli("watch", "--once", "--notify", url, "--exec", f"{sys.executable} {script} {log}")
    assert r.code in (0, 1), r.err
    assert_harmless(r.out.encode())
    assert_harmless(r.err.encode())
    assert_markup_literal(r.out)
    hooks = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    news = {hook["env"]["WAYPOST_NUMBER"] for hook in hooks}
    # The shipments still in transit when saved: ILS and PandaPon ones at least.
    assert len(hooks) == len(news) >= 2
    assert "3676E4043665" in news
    # The hook's stdout is passed on, made harmless too (its OSC title is one visible mark).
    for number in news:
        assert f"hook saw {number} ␛\n" in r.out
    assert r.err.count("hook warns ␛\n") == len(news)

    assert len(receiver.posts) == len(news)
    assert {n for n in news for p in receiver.posts if f"({n}) " in p["title"]} == news
    for post in receiver.posts:
        for key in ("title", "message"):
            assert_harmless(post[key].encode())
        assert post["title"].startswith(f"waypost: {safe.field(LABEL)} (")
        assert "[/]" in post["message"]
        assert HEAD not in post["message"]

    allowed = {*HOOK_ENV, "WAYPOST_NUMBER", "WAYPOST_CARRIER", "WAYPOST_STATUS", "WAYPOST_LABEL"}
    for hook in hooks:
        env = hook["env"]
        assert {k for k in env if not k.startswith("LC_")} <= allowed, sorted(env)
        assert "GITHUB_TOKEN" not in env
        assert "AWS_SECRET_ACCESS_KEY" not in env
        for value in env.values():
            assert_harmless(value.encode())
        assert env["WAYPOST_LABEL"] == safe.field(LABEL)
        # stdin is the shipment exactly as the carrier sent it.
        shipment = json.loads(hook["stdin"])
        assert all(HEAD in e["description"] for e in shipment["events"])
        assert all(TAIL in e["description"] for e in shipment["events"])


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed here")
def test_the_readme_jq_hook_prints_through_waypost(hostile: HostileServer, cli) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", "ils:3676E4043665")
    inject(hostile)
    r = cli("watch", "--once", "--exec", 'jq -r ".events[0].description"')
    assert r.code == 0, r.err
    # What the hook prints keeps its own line breaks (carrier newlines included: jq -r printed
    # them), every other control made harmless.
    assert safe.lines(hostile_text("Vessel departed transhipment port Singapore")) in r.out
    assert "\x1b" not in r.out
    assert not [c for c in r.out if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)]


def test_a_value_a_hook_cannot_take_is_reported_and_the_pass_goes_on(
    hostile: HostileServer, cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    cli("track", "--save", *NUMBERS)
    inject(hostile)
    real = notify.hook_env

    def poisoned(shipment: Any, label: str | None = None) -> dict[str, str]:
        env = real(shipment, label)
        if shipment.tracking_number == "3676E4043665":
            env["WAYPOST_NUMBER"] = "3676E4043665\x00"  # what an unsanitised value would be
        return env

    monkeypatch.setattr(notify, "hook_env", poisoned)
    log = tmp_path / "hook.log"
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    r = cli("watch", "--once", "--exec", f"{sys.executable} {script} {log}")
    assert r.code == 1
    assert "--exec for 3676E4043665 could not be started" in r.err
    assert "Traceback" not in r.err
    delivered = {json.loads(x)["env"]["WAYPOST_NUMBER"] for x in log.read_text().splitlines()}
    assert delivered
    assert "3676E4043665" not in delivered


def test_carriers_detect_and_remote_print_harmless_lines(hostile: HostileServer, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("carriers", "--detect", "LS912989618CN", "\x1b]52;c;QQ==\x07LS9\x9b2J")
    assert r.code == 2
    assert "Traceback" not in r.err
    assert_harmless(r.out.encode())
    # The error names the bad number as a visible repr ('\x1b]52;...'): text, not an escape.
    assert "x1b]52;c;QQ==" in r.err
    assert not [c for c in r.err if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)]
    hostile.rewrite(lambda carrier, path, payload: map_strings(payload, hostile_text))
    remote = cli("carriers", "--remote", "trackingmore")
    assert remote.code == 0, remote.err
    assert_harmless(remote.out.encode(), structure="\n\t")
    rows = remote.out.splitlines()
    assert rows
    assert all(row.count("\t") == 1 for row in rows)
    assert all("[/]" in row for row in rows)


def test_a_hostile_label_on_a_rich_track_block_is_literal() -> None:
    import io

    from waypost import render
    from waypost.models import Event, Shipment

    shipment = Shipment(
        tracking_number="3676E4043665",
        carrier="ils",
        found=True,
        events=[Event(description="[bold]x[/bold]", images=["file:///etc/passwd"])],
    )
    out = io.StringIO()
    term = render.Terminal(stdout_tty=True, color=True, width=100)
    render.track([shipment], term, out, marks={0: "[/]\x1b]0;title\x07[link=file:///x]y"})
    text = out.getvalue()
    assert "[[/]␛[link=file:///x]y]" in text
    assert "[bold]x[/bold]" in text
    assert "image: file:///etc/passwd" in text
    assert "\x1b]" not in text
