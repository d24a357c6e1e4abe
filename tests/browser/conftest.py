"""Browser tests' fixtures: one headless Chromium per worker, a clean `browser` per test.

`browser` is a desktop screen unless a test asks for others:
`@pytest.mark.parametrize("browser", ["desktop", "phone"], indirect=True)`. A failing test
leaves a screenshot of what the page showed in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.browser import DESKTOP, VIEWPORTS, Browser, artefact_name, start_chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """One Chromium per worker: starting one takes about a second, a test needs it clean only."""
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Kept on the item, so that the fixture's teardown knows whether the test failed.
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture
def browser(request: pytest.FixtureRequest, chromium: WebDriver) -> Iterator[Browser]:
    """A clean page on a desktop (default) or phone screen; a screenshot if the test failed."""
    viewport = VIEWPORTS[getattr(request, "param", DESKTOP.name)]
    page = Browser(driver=chromium, viewport=viewport, name=artefact_name(request.node.nodeid))
    page.reset()
    yield page
    reports = request.node.stash.get(_REPORTS, {})
    if any(report.failed for report in reports.values()):
        try:
            path = page.screenshot_now("failed")
            print(f"screenshot of the failure: {path}")
        except Exception as err:  # a dead browser must not hide the test's own failure
            print(f"no screenshot of the failure: {err!r}")
