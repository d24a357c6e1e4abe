"""docs/connectors/GUIDE.md cannot rot: its walk-through connector passes the kit as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors"
EXAMPLE = re.compile(r"<!-- example: (?P<name>\S+) -->\n```python\n(?P<code>.*?)\n```", re.DOTALL)
KIT_RUN = """
import pytest

from acme_track import AcmeTrackConnector
from gateway.sdk.connectors import ConnectorConfigError
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract


class TestAcmeTrack(ConnectorContract):
    @pytest.fixture
    def connector_case(self):
        return ConnectorCase(
            connector=AcmeTrackConnector,
            configs=[
                {"url": "https://api.acme.example/v1/tracking"},
                {"url": "http://acme.test/t", "codes": {"parcel.announced": "NEW"}},
            ],
        )


def test_a_code_for_an_unknown_event_type_is_a_config_error():
    config = AcmeTrackConnector.config_model(url="https://a.example", codes={"parcel.x": "X"})
    with pytest.raises(ConnectorConfigError, match="unknown event types"):
        AcmeTrackConnector(config=config)
"""


def example() -> str:
    (found,) = EXAMPLE.finditer((DOCS / "GUIDE.md").read_text())
    assert found["name"] == "acme_track.py"
    return found["code"]


def test_the_walk_through_connector_passes_the_kit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(acme_track=example(), test_acme_track=KIT_RUN)
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    # The declarations, config, secrets and four render checks; inbound, status and scan skip.
    result.assert_outcomes(passed=8, skipped=4)


def test_the_guide_links_what_it_names() -> None:
    guide = (DOCS / "GUIDE.md").read_text()
    for link in re.findall(r"\]\(([^)#]+)\)", guide):
        assert (DOCS / link).exists(), link
    assert 'acme-track = "acme_track:AcmeTrackConnector"' in guide
    assert 'name: ClassVar[str] = "acme-track"' in example()


def test_the_guide_lists_every_check_of_the_kit() -> None:
    from gateway.sdk.testing.connectors import ConnectorContract

    checks = {name for name in vars(ConnectorContract) if name.startswith("test_")}
    listed = set(re.findall(r"^\| `(test_\w+)` \|", (DOCS / "GUIDE.md").read_text(), re.MULTILINE))
    assert listed == checks
