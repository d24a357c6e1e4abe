"""A real headless Chromium for browser tests, driven by Selenium from async tests.

Every call runs in a worker thread: the gateway and the emulator under test serve on the test's
own event loop, and a blocking WebDriver call there would stop the very page it waits for.
Waits are WebDriverWait on something the page shows, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.requirements import missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
# Gitignored; CI keeps the folder as the run's artefacts.
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DEFAULT_TIMEOUT = 10.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Viewport:
    """A screen the page is tried on: CSS pixels, device pixel ratio, touch and mobile layout."""

    name: str
    width: int
    height: int
    scale: float = 1.0
    mobile: bool = False


DESKTOP = Viewport("desktop", 1280, 900)
PHONE = Viewport("phone", 390, 844, scale=2.0, mobile=True)  # an iPhone 12-14 sized screen
VIEWPORTS = {v.name: v for v in (DESKTOP, PHONE)}


def chromium_paths() -> tuple[Path, Path]:
    """Debian's chromium and chromium-driver (`./scripts/test` installs them), else a failure."""
    browser = CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or CHROMIUM)
    driver = CHROMEDRIVER if CHROMEDRIVER.exists() else Path(shutil.which("chromedriver") or "")
    if not browser.exists() or not driver.is_file():
        missing(
            "chromium",
            f"browser tests need {CHROMIUM} and {CHROMEDRIVER} "
            "(Debian packages chromium and chromium-driver)",
        )
    return browser, driver


def start_chromium() -> WebDriver:
    """One headless Chromium; the caller quits it."""
    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # containers and CI run as root, where the sandbox cannot start
        "--disable-dev-shm-usage",  # /dev/shm is 64 MB in Docker
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--window-size={DESKTOP.width},{DESKTOP.height}",
        "--lang=en-GB",
    ):
        options.add_argument(flag)
    # A fixed driver path: Selenium Manager never downloads anything.
    return webdriver.Chrome(options=options, service=Service(executable_path=str(driver)))


def artefact_name(test_id: str) -> str:
    """A file name from a node id: `tests/x/test_x.py::test_y[phone]` → `test_x-test_y-phone`."""
    tail = test_id.split("/")[-1].replace(".py::", "-")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", tail).strip("-")


class Browser:
    """One test's view of a Chromium: open pages, click, type, wait for what the page shows."""

    def __init__(self, *, driver: WebDriver, viewport: Viewport, name: str) -> None:
        self.driver = driver
        self.viewport = viewport
        self.name = name
        self.screenshots: list[Path] = []

    async def _run(self, call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)

    def reset(self) -> None:
        """A clean slate for the next test: no cookies or storage, this test's screen size."""
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        self._metrics(self.viewport.height)
        self.driver.execute_cdp_cmd(
            "Emulation.setTouchEmulationEnabled",
            {"enabled": self.viewport.mobile, "maxTouchPoints": 5},
        )

    def _metrics(self, height: int) -> None:
        v = self.viewport
        metrics = {"width": v.width, "height": height, "deviceScaleFactor": v.scale}
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", metrics | {"mobile": v.mobile}
        )

    async def open(self, url: str) -> None:
        await self._run(lambda: self.driver.get(url))

    def _wait(self, timeout: float | None) -> WebDriverWait[WebDriver]:
        return WebDriverWait(self.driver, DEFAULT_TIMEOUT if timeout is None else timeout, 0.05)

    async def find(self, css: str, timeout: float | None = None) -> WebElement:
        """The element once it is visible."""
        locator = (By.CSS_SELECTOR, css)
        visible = ec.visibility_of_element_located(locator)
        return await self._run(lambda: self._wait(timeout).until(visible))

    async def click(self, css: str, timeout: float | None = None) -> None:
        """Click the element once it is visible and enabled, scrolled into view as a person would.

        A live update may replace the element between finding and clicking it: then the new one
        is found and clicked, within the same bounded wait.
        """
        locator = (By.CSS_SELECTOR, css)

        def clicked(driver: WebDriver) -> bool:
            element = driver.find_element(*locator)
            if not (element.is_displayed() and element.is_enabled()):
                return False
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
            element.click()
            return True

        wait = WebDriverWait(
            self.driver,
            DEFAULT_TIMEOUT if timeout is None else timeout,
            0.05,
            ignored_exceptions=(
                NoSuchElementException,
                StaleElementReferenceException,
                ElementClickInterceptedException,
                ElementNotInteractableException,
            ),
        )
        try:
            await self._run(lambda: wait.until(clicked))
        except TimeoutException as err:
            raise AssertionError(f"could not click {css}") from err

    async def type(self, css: str, text: str, *, clear: bool = True) -> None:
        """Type into a field like a keyboard does (key events, not a value set by script)."""
        element = await self.find(css)

        def type_() -> None:
            if clear:
                element.clear()
            element.send_keys(text)

        await self._run(type_)

    async def keys(self, text: str) -> None:
        """Press keys on whatever has the focus (`Keys.ENTER` and friends work too)."""
        await self._run(lambda: self.driver.switch_to.active_element.send_keys(text))

    async def wait_text(self, css: str, text: str, timeout: float | None = None) -> None:
        """Until the element's visible text contains `text`."""
        locator = (By.CSS_SELECTOR, css)
        try:
            await self._run(
                lambda: self._wait(timeout).until(ec.text_to_be_present_in_element(locator, text))
            )
        except WebDriverException as err:
            shown = await self.text(css)
            raise AssertionError(f"{css} never showed {text!r}; it shows {shown!r}") from err

    async def wait_attribute(
        self, css: str, attribute: str, value: str, timeout: float | None = None
    ) -> None:
        """Until the element's attribute equals `value` (for `data-*` states the page exposes)."""

        def holds(driver: WebDriver) -> bool:
            try:
                return driver.find_element(By.CSS_SELECTOR, css).get_attribute(attribute) == value
            except WebDriverException:
                return False  # being replaced by a live update right now

        try:
            await self._run(lambda: self._wait(timeout).until(holds))
        except WebDriverException as err:
            now = await self.attribute(css, attribute)
            raise AssertionError(f"{css} [{attribute}] stayed {now!r}, wanted {value!r}") from err

    async def wait_until(
        self, condition: Callable[[WebDriver], Any], timeout: float | None = None
    ) -> Any:
        """Any WebDriverWait condition (e.g. from selenium's expected_conditions)."""
        return await self._run(lambda: self._wait(timeout).until(condition))

    async def text(self, css: str) -> str:
        def read() -> str:
            try:
                return str(self.driver.find_element(By.CSS_SELECTOR, css).text)
            except WebDriverException:
                return "<no such element>"

        return await self._run(read)

    async def attribute(self, css: str, attribute: str) -> str | None:
        def read() -> str | None:
            try:
                value = self.driver.find_element(By.CSS_SELECTOR, css).get_attribute(attribute)
            except WebDriverException:
                return "<no such element>"
            return None if value is None else str(value)

        return await self._run(read)

    async def script(self, source: str, *args: Any) -> Any:
        """Run JavaScript in the page (`return …` gives a value back)."""
        return await self._run(lambda: self.driver.execute_script(source, *args))

    async def scroll_to(self, css: str) -> None:
        """Bring the element to the middle of the screen (for a screenshot of that part)."""
        element = await self.find(css)
        script = "arguments[0].scrollIntoView({block: 'center'})"
        await self._run(lambda: self.driver.execute_script(script, element))

    async def focused_id(self) -> str:
        """The id of the element that has the keyboard focus."""
        focused = await self._run(lambda: self.driver.switch_to.active_element.get_attribute("id"))
        return str(focused)

    async def screenshot(self, label: str | None = None, *, full_page: bool = True) -> Path:
        """Save a PNG under test-artifacts/screenshots/ and return its path."""
        return await self._run(lambda: self.screenshot_now(label, full_page=full_page))

    def screenshot_now(self, label: str | None = None, *, full_page: bool = True) -> Path:
        """The blocking form, for teardown after a failure (no event loop needed)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}{'-' + label if label else ''}.png"
        if full_page:
            # The whole page in one picture: the screen grows to the page's height for the shot.
            height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
            self._metrics(max(self.viewport.height, height))
        try:
            path.write_bytes(self.driver.get_screenshot_as_png())
        finally:
            if full_page:
                self._metrics(self.viewport.height)
        self.screenshots.append(path)
        return path
