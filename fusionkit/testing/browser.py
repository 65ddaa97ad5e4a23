"""Headless Chromium for checking that static HTML really renders (tests, screenshots).

fusionkit's promise is that an executed notebook, an exported notebook and a
``fusionkit demo`` report read well with no kernel. String checks on the HTML cannot see
what a browser shows (CSS hiding a table, a broken tag swallowing a section), so the
browser tests open the file in a real headless Chromium and read the *visible* text.

The browser is isolated on purpose: a fresh ``--user-data-dir`` per session, background
networking, sync and component updates off, and every host name resolved to nothing
except localhost (``--host-resolver-rules``) — a page that depended on a CDN would show
that in its text and its screenshot, and a test never reaches the network.

Needs ``selenium`` (the ``dev`` extra) and the ``chromium`` and ``chromedriver`` programs
(Debian/Ubuntu: ``apt-get install chromium chromium-driver``). :func:`browser_unavailable`
says why a browser cannot start, for ``pytest.skip``.

Example:
    >>> with HeadlessBrowser() as browser:          # doctest: +SKIP
    ...     browser.open("report.html")
    ...     browser.texts("h1")
    ['Edge vs fusion']
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ConfigurationError, MissingDependencyError

__all__ = [
    "BrowserPaths",
    "HeadlessBrowser",
    "browser_unavailable",
    "find_browser",
    "screenshot",
]

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_DRIVER_NAMES = ("chromedriver",)
#: Tallest full-page screenshot taken, in CSS pixels; longer pages are cut here.
MAX_SCREENSHOT_HEIGHT = 16_000
_INSTALL_HINT = (
    "Install them (Debian/Ubuntu: `apt-get install chromium chromium-driver`) or set "
    "FUSIONKIT_CHROMIUM / FUSIONKIT_CHROMEDRIVER to their paths."
)


@dataclass(frozen=True, slots=True)
class BrowserPaths:
    """Where the browser and its driver live."""

    chromium: str
    chromedriver: str


def _which(env: str, names: Sequence[str]) -> str | None:
    explicit = os.environ.get(env)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_browser() -> BrowserPaths:
    """Find Chromium and chromedriver on PATH (or in FUSIONKIT_CHROMIUM/_CHROMEDRIVER).

    Returns:
        The two executable paths.

    Raises:
        ConfigurationError: One of them is missing; the message says how to install it.
    """
    chromium = _which("FUSIONKIT_CHROMIUM", _CHROMIUM_NAMES)
    driver = _which("FUSIONKIT_CHROMEDRIVER", _DRIVER_NAMES)
    missing = [n for n, p in (("chromium", chromium), ("chromedriver", driver)) if p is None]
    if missing:
        raise ConfigurationError(
            f"Headless browser checks need {' and '.join(missing)}. " + _INSTALL_HINT
        )
    assert chromium is not None and driver is not None
    return BrowserPaths(chromium, driver)


def browser_unavailable() -> str | None:
    """Say why a headless browser cannot be used here, or None when it can.

    Meant for ``pytest.skip(reason)``: checks for selenium, chromium and chromedriver
    without starting anything.
    """
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'fusionkit[dev]')"
    try:
        find_browser()
    except ConfigurationError as exc:
        return str(exc)
    return None


class HeadlessBrowser:
    """One headless Chromium session driven through selenium.

    Args:
        width: Window width in CSS pixels.
        height: Window height in CSS pixels (full-page screenshots go beyond it).
        page_load_timeout: Seconds to wait for a page's load event.
        paths: Browser and driver; found with :func:`find_browser` when omitted.

    Use it as a context manager, or call :meth:`close`; the temporary profile folder is
    removed on close.
    """

    def __init__(
        self,
        *,
        width: int = 1400,
        height: int = 2000,
        page_load_timeout: float = 30.0,
        paths: BrowserPaths | None = None,
    ) -> None:
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError as exc:
            raise MissingDependencyError(
                "The headless browser needs selenium: pip install 'fusionkit[dev]'."
            ) from exc
        paths = paths or find_browser()
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="fusionkit-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = paths.chromium
        for arg in (
            "--headless=new",
            "--no-sandbox",  # containers and CI runners usually lack the sandbox's namespaces
            "--disable-gpu",
            "--disable-quic",
            "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs otherwise
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--mute-audio",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            # nothing but localhost resolves: the page must stand on its own
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(arg)
        try:
            self.driver: Any = webdriver.Chrome(
                options=options, service=Service(executable_path=paths.chromedriver)
            )
        except Exception as exc:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise ConfigurationError(
                f"Headless Chromium did not start ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}). "
                "Check that chromium and chromedriver are the same version. " + _INSTALL_HINT
            ) from exc
        self.driver.set_page_load_timeout(page_load_timeout)

    def __enter__(self) -> HeadlessBrowser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Quit the browser and remove its temporary profile."""
        driver, self.driver = getattr(self, "driver", None), None
        try:
            if driver is not None:
                driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def open(self, target: str | os.PathLike[str]) -> None:
        """Open a local HTML file (as a ``file://`` URL) or a URL, and wait for it to load.

        Args:
            target: A path to an HTML file, or a ``file://``/``http://127.0.0.1`` URL.

        Raises:
            FileNotFoundError: ``target`` is a path that does not exist.
        """
        text = os.fspath(target)
        if "://" in text:
            url = text
        else:
            path = Path(text).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"No HTML file at {path}")
            url = path.as_uri()
        self.driver.get(url)

    @property
    def title(self) -> str:
        """The document's ``<title>``."""
        return str(self.driver.title)

    def texts(self, selector: str) -> list[str]:
        """Visible text of every displayed element matching a CSS selector.

        Text hidden by CSS (``display:none``, ``visibility:hidden``, zero size) is not
        included, which is the point: this is what a reader sees.

        Args:
            selector: A CSS selector.

        Returns:
            One string per displayed element, in document order (empty list if none).
        """
        from selenium.webdriver.common.by import By

        return [
            str(e.text)
            for e in self.driver.find_elements(By.CSS_SELECTOR, selector)
            if e.is_displayed()
        ]

    def count(self, selector: str) -> int:
        """How many elements match a CSS selector (displayed or not)."""
        from selenium.webdriver.common.by import By

        return len(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def screenshot(self, path: str | os.PathLike[str], *, selector: str | None = None) -> Path:
        """Save a PNG screenshot of the whole page, or of one element.

        The whole-page shot goes beyond the window (Chrome DevTools
        ``Page.captureScreenshot`` with ``captureBeyondViewport``), up to
        :data:`MAX_SCREENSHOT_HEIGHT` pixels tall.

        Args:
            path: Where to write the PNG; the parent folder is created.
            selector: CSS selector of one element to capture instead of the page.

        Returns:
            The path written.

        Raises:
            LookupError: ``selector`` matches nothing.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if selector is not None:
            from selenium.webdriver.common.by import By

            found = self.driver.find_elements(By.CSS_SELECTOR, selector)
            if not found:
                raise LookupError(f"No element matches {selector!r}; nothing to capture.")
            self.driver.execute_script("arguments[0].scrollIntoView(true);", found[0])
            target.write_bytes(found[0].screenshot_as_png)
            return target
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = max(int(size["width"]), 1)
        height = min(max(int(size["height"]), 1), MAX_SCREENSHOT_HEIGHT)
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        target.write_bytes(base64.b64decode(shot["data"]))
        return target


def screenshot(
    html: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    selector: str | None = None,
    width: int = 1400,
    height: int = 2000,
) -> Path:
    """Open an HTML file in headless Chromium and save a PNG of the page (or one element).

    Args:
        html: The HTML file (or URL) to render.
        out: Where to write the PNG.
        selector: CSS selector of the element to capture; the whole page when None.
        width: Window width in CSS pixels.
        height: Window height in CSS pixels.

    Returns:
        The PNG's path.
    """
    with HeadlessBrowser(width=width, height=height) as browser:
        browser.open(html)
        return browser.screenshot(out, selector=selector)
