"""docs/adapters/GUIDE.md cannot rot: its example package passes the kit, its excerpts are real."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from gateway.sdk import ENTRY_POINT_GROUP, AdapterProtocolError

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "adapters"
EXAMPLE = DOCS / "example"
EXCERPT = re.compile(r"<!-- from: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)\n```", re.DOTALL)


def test_every_excerpt_in_the_guide_is_in_the_example_package() -> None:
    guide = (DOCS / "GUIDE.md").read_text()
    excerpts = list(EXCERPT.finditer(guide))
    assert len(excerpts) >= 8
    for found in excerpts:
        source = (EXAMPLE / found["path"]).read_text()
        assert found["code"] in source, f"GUIDE.md's excerpt of {found['path']} is out of date"


def test_the_readme_links_the_guide() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text()
    assert "docs/adapters/GUIDE.md" in readme


def test_the_entry_point_names_the_adapter_class(monkeypatch: pytest.MonkeyPatch) -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    ((name, target),) = project["entry-points"][ENTRY_POINT_GROUP].items()
    module, _, attribute = target.partition(":")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    adapter = getattr(importlib.import_module(module), attribute)
    assert adapter.name == name
    assert isinstance(adapter, type)
    assert all(hasattr(adapter, a) for a in ("features", "config_model", "open_compartment"))


def test_lenient_accepts_only_the_known_quirk_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    protocol = importlib.import_module("acme_lb8.protocol")
    with pytest.raises(AdapterProtocolError, match="lower case"):
        protocol.parse(b"7 ok opened\n", lenient=False)
    parsed = protocol.parse(b"7 ok opened\n", lenient=True)
    assert parsed.message == protocol.Reply(7, True, ("OPENED",))
    assert parsed.quirk is not None
    assert protocol.parse(b"7 OK OPENED\n", lenient=False).quirk is None
    with pytest.raises(AdapterProtocolError, match="not an LB-8 message"):
        protocol.parse(b"hello\n", lenient=True)


def test_the_example_adapter_passes_the_conformance_kit(pytester: pytest.Pytester) -> None:
    # A separate process, configured by the example's own pyproject.toml (strict asyncio mode,
    # its own sys.path), as a vendor runs it.
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-c",
        str(EXAMPLE / "pyproject.toml"),
        "--rootdir",
        str(EXAMPLE),
        str(EXAMPLE / "tests"),
    )
    result.assert_outcomes(passed=16)


def test_the_sdk_modules_and_polling_helpers_the_guide_names_exist() -> None:
    guide = (DOCS / "GUIDE.md").read_text()
    modules = set(re.findall(r"`(gateway\.sdk(?:\.\w+)*)`", guide))
    assert {"gateway.sdk.serial", "gateway.sdk.polling", "gateway.sdk.boards"} <= modules
    for dotted in modules:
        try:
            importlib.import_module(dotted)
        except ModuleNotFoundError:
            # `gateway.sdk.testing.AdapterRig`: a name in a module, not a module.
            module, _, name = dotted.rpartition(".")
            assert hasattr(importlib.import_module(module), name), f"{dotted} does not exist"
    helpers = {
        "gateway.sdk.serial": ("SerialBus", "SerialSettings"),
        "gateway.sdk.polling": ("PollTracker", "DoorReading", "unpack_bits"),
        "gateway.sdk.boards": ("PolledLocker", "poll_forever", "seconds_left"),
    }
    for module, names in helpers.items():
        for name in names:
            assert name in guide, f"the guide no longer mentions {name}"
            assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"
    polled = importlib.import_module("gateway.sdk.boards").PolledLocker
    for method in set(re.findall(r"polled\.(\w+)\(", guide)):
        assert hasattr(polled, method), f"the guide calls PolledLocker.{method}, which is gone"
    settings = importlib.import_module("gateway.sdk.serial").SerialSettings
    for field in ("baudrate", "bytesize", "parity", "stopbits", "reconnect_min_s"):
        assert field in settings.__dataclass_fields__
