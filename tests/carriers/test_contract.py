"""One harness over every registered carrier (apprise-style): declarations, the sandbox
round trip of each module's TEST_CASES, rejected credentials, unreachable servers, and no
secret in any output. TrackingMore runs twice: API v4 (the default) and ``api = "v2"``."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from types import ModuleType

import pytest

from waypost import carriers
from waypost.carriers._parse import WordRules
from waypost.models import Status
from waypost.sandbox import Sandbox

NAMES = carriers.names()
# Every carrier, and TrackingMore once more on its older API.
VARIANTS = [*NAMES, "trackingmore@v2"]


def _variant(variant: str, request: pytest.FixtureRequest) -> str:
    """The carrier name of ``variant``; ``NAME@v2`` switches the sandboxed waypost to v2."""
    name, _, api = variant.partition("@")
    if api == "v2":
        request.getfixturevalue("tm_v2")
    return name


@pytest.mark.parametrize("name", NAMES)
def test_declarations_are_complete(name: str) -> None:
    module = carriers.module(name)
    info = module.INFO
    assert info.name == name
    assert info.title
    assert info.coverage
    assert info.docs
    assert info.max_batch >= 1
    assert info.setting("base_url") is not None
    assert info.credentials, "a carrier needs credentials"
    assert all(s.credential for s in info.secrets)
    assert module.__doc__
    assert info.docs.split("/")[-1] in module.__doc__
    assert module.TEST_CASES
    for pattern in info.patterns:
        assert re.fullmatch(pattern.regex, pattern.example), pattern
        if pattern.check is not None:
            assert pattern.check(pattern.example), pattern


@pytest.mark.parametrize("variant", VARIANTS)
def test_sandbox_answers_every_declared_test_case(
    variant: str, request: pytest.FixtureRequest, sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    name = _variant(variant, request)
    cases = carriers.module(name).TEST_CASES
    r = cli("track", "--jsonl", *[f"{name}:{c['number']}" for c in cases])
    assert r.code == 0, r.err
    shipments = [json.loads(line) for line in r.out.splitlines()]
    for case in cases:
        number = case["number"].rpartition(":")[2]  # a courier may precede the number
        mine = [s for s in shipments if number in (s["tracking_number"], s.get("order_id"))]
        assert mine, case
        assert mine[0]["found"] is case["found"]
        assert mine[0]["status"] == case["status"].value
        assert mine[0]["carrier"] == name


@pytest.mark.parametrize("variant", VARIANTS)
def test_wrong_secret_is_exit_3_and_never_printed(
    variant: str, request: pytest.FixtureRequest, sandbox: Sandbox, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    name = _variant(variant, request)
    info = carriers.info(name)
    wrong = {s.env_var(name): f"WRONG-{s.key}-value-0123456789" for s in info.secrets}
    for key, value in wrong.items():
        monkeypatch.setenv(key, value)
    number = carriers.module(name).TEST_CASES[0]["number"]
    r = cli("-vv", "track", f"{name}:{number}")
    assert r.code == 3, (r.out, r.err)
    for value in wrong.values():
        assert value not in r.out + r.err


@pytest.mark.parametrize("variant", VARIANTS)
def test_unreachable_carrier_is_exit_4_with_one_line_per_number(
    variant: str, request: pytest.FixtureRequest, sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    name = _variant(variant, request)
    sandbox.stop()
    number = carriers.module(name).TEST_CASES[0]["number"]
    r = cli("track", "--timeout", "1", "--jsonl", f"{name}:{number}")
    assert r.code == 4
    (line,) = r.out.splitlines()
    shipment = json.loads(line)
    assert "cannot reach" in shipment["error"]
    # Schema 2: not answered is unknown (found null), never a carrier's not_found.
    assert (shipment["found"], shipment["status"]) == (None, "unknown")
    assert "Traceback" not in r.err


@pytest.mark.parametrize("name", NAMES)
def test_rejected_credentials_are_unknown_not_not_found(
    name: str, sandbox: Sandbox, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for s in carriers.info(name).secrets:
        monkeypatch.setenv(s.env_var(name), f"WRONG-{s.key}-value-0123456789")
    number = carriers.module(name).TEST_CASES[0]["number"]
    r = cli("track", "--jsonl", f"{name}:{number}")
    assert r.code == 3
    shipments = [json.loads(line) for line in r.out.splitlines()]
    assert shipments
    assert all((s["found"], s["status"]) == (None, "unknown") for s in shipments)
    assert all(s["error"] for s in shipments)


def _submodules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{m.name}")
        for m in pkgutil.iter_modules(package.__path__)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_no_declared_test_case_expects_unknown(name: str) -> None:
    # unknown is never a carrier's status: no adapter may claim to answer with it.
    module = carriers.module(name)
    assert all(c["status"] is not Status.UNKNOWN for c in module.TEST_CASES)
    # The status tables live in the package's modules (api, shared), not in its facts.
    values = [
        v
        for part in (module, *_submodules(module))
        for v in vars(part).values()
        if isinstance(v, dict | WordRules)
    ]
    tables = [v for v in values if isinstance(v, dict)]
    mapped = [x[0] if isinstance(x, tuple) else x for t in tables for x in t.values()]
    rules = [v for v in values if isinstance(v, WordRules)]
    mapped += [status for r in rules for _, status in r.rules]
    assert any(isinstance(x, Status) for x in mapped)
    assert Status.UNKNOWN not in [x for x in mapped if isinstance(x, Status)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_secrets_never_reach_output_or_logs(
    variant: str, request: pytest.FixtureRequest, sandbox: Sandbox, cli
) -> None:  # type: ignore[no-untyped-def]
    name = _variant(variant, request)
    secrets = [
        v
        for k, v in sandbox.env().items()
        if any(k == s.env_var(name) for s in carriers.info(name).secrets)
    ]
    assert secrets
    numbers = [f"{name}:{c['number']}" for c in carriers.module(name).TEST_CASES]
    outputs = [
        cli("-vv", "track", *numbers),
        cli("-vv", "track", "--json", *numbers),
        cli("config", "show"),
        cli("config", "show", "--json"),
        cli("carriers", "--json"),
    ]
    for r in outputs:
        for secret in secrets:
            assert secret not in r.out
            assert secret not in r.err


@pytest.mark.parametrize("name", NAMES)
def test_declared_capabilities_are_what_the_adapters_offer(name: str) -> None:
    # ``remove`` and ``couriers`` are read from CarrierInfo, never probed on the adapter: the
    # declaration and every version's adapter must agree.
    package = carriers.MODULES[name]
    strategies = [importlib.import_module(f"{package}.adapter")]
    if name == "trackingmore":
        strategies = [importlib.import_module(f"{package}.{v}") for v in ("v2", "v4")]
    for strategy in strategies:
        offered = {
            op
            for op in ("remove", "couriers", "check")
            if callable(getattr(strategy.Adapter, op, None))
        }
        assert offered == carriers.info(name).capabilities, strategy.__name__
        assert carriers.supports(name, "remove") == ("remove" in offered)
