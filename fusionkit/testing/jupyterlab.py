"""A throwaway JupyterLab server and the few UI moves the browser tests need.

The widget tests must see what a person sees: a notebook run in JupyterLab, a click on a
live widget, a save, a reopen without the old kernel. :class:`JupyterLabServer` starts
``jupyter lab`` on a free localhost port with a temporary root folder, no token, its own
settings and workspaces folders (so a developer's settings never leak in) and stops it
on close. :class:`LabPage` drives the page through a :class:`~fusionkit.testing.browser.
HeadlessBrowser`'s selenium driver: run all cells, click a button, save, wait for text.

Needs the ``jupyterlab`` package (the ``dev`` extra); :func:`jupyterlab_unavailable`
says why not, for ``pytest.skip``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ConfigurationError

__all__ = ["JupyterLabServer", "LabPage", "jupyterlab_unavailable"]


def jupyterlab_unavailable() -> str | None:
    """Why JupyterLab cannot be started here, or None when it can."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed (pip install 'fusionkit[dev]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLabServer:
    """``jupyter lab`` on 127.0.0.1 serving ``root``; stopped on close.

    Args:
        root: The folder the server serves (notebooks are written here).
        settings: JupyterLab user settings, ``{plugin_id: {key: value}}``.
        start_timeout: Seconds to wait for the server to answer.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        settings: dict[str, dict[str, Any]] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.root = Path(root)
        self.port = _free_port()
        self._home = Path(tempfile.mkdtemp(prefix="fusionkit-lab-"))
        settings_dir = self._home / "settings"
        quiet = {  # no kernel-choice dialog, no news prompt: the page is the notebook
            "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
            "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
        }
        for plugin, values in {**quiet, **(settings or {})}.items():
            package, _, name = plugin.partition(":")
            target = settings_dir / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(self._home / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self._home / "runtime"),
        }
        self._log = (self._home / "server.log").open("wb")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--ServerApp.allow_root=True",
            ],
            cwd=self.root,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: close() ends the kernels too
        )
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                self.api("GET", "/api/status")
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    log = self.log_tail()
                    self.close()
                    raise ConfigurationError(f"jupyter lab did not start:\n{log}") from None
                time.sleep(0.3)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the server's REST API; returns the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> int:
        """Shut every running kernel down (what "Shut Down Kernel" does); how many."""
        kernels = self.api("GET", "/api/kernels") or []
        for kernel in kernels:
            self.api("DELETE", f"/api/kernels/{kernel['id']}")
        return len(kernels)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log."""
        self._log.flush()
        return (self._home / "server.log").read_text(errors="replace")[-chars:]

    def close(self) -> None:
        """Stop the server and its kernels; remove its settings folder."""
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> JupyterLabServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LabPage:
    """UI moves in a JupyterLab page, through a selenium driver.

    Args:
        driver: A selenium WebDriver (``HeadlessBrowser(...).driver``).
        server: The server the page belongs to.
    """

    def __init__(self, driver: Any, server: JupyterLabServer) -> None:
        self.driver = driver
        self.server = server

    def open_notebook(self, name: str, timeout: float = 60.0) -> None:
        """Open ``name`` and wait until its kernel is idle."""
        self.driver.get(f"{self.server.url}/lab/tree/{name}")
        self.wait_for(
            lambda: self.driver.execute_script(
                "const d = document.querySelector('.jp-Dialog .jp-mod-accept');"
                "if (d) { d.click(); return false; }"
                "const k = document.querySelector('.jp-KernelStatus, .jp-Toolbar-kernelName');"
                "return !!document.querySelector('.jp-Notebook .jp-Cell') && !!k &&"
                " !/No Kernel/.test(k.textContent);"
            ),
            timeout,
            "the notebook to open with a kernel",
        )
        self.wait_for(
            lambda: (
                self.driver.execute_script(
                    "const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
                    "return s ? s.getAttribute('data-status') : null;"
                )
                == "idle"
            ),
            timeout,
            "the notebook's kernel to be idle",
        )

    def command(self, command_id: str, menu: str) -> None:
        """Run a JupyterLab command through its main-menu entry."""
        from selenium.webdriver.common.by import By

        items = self.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
        target = next(i for i in items if i.text.strip() == menu)
        target.click()
        self.wait_for(
            lambda: self.driver.find_elements(
                By.CSS_SELECTOR, f'.lm-Menu-item[data-command="{command_id}"]'
            ),
            10,
            f"menu entry {command_id}",
        )
        self.driver.find_element(
            By.CSS_SELECTOR, f'.lm-Menu-item[data-command="{command_id}"]'
        ).click()

    def run_all(self, timeout: float = 120.0) -> None:
        """Run > Run All Cells, then wait for the kernel to be idle with every cell run."""
        self.command("runmenu:run-all", "Run")
        time.sleep(0.5)
        self.wait_for(
            lambda: self.driver.execute_script(
                "const p = [...document.querySelectorAll('.jp-InputArea-prompt')];"
                "return p.length > 0 && p.every(x => /\\[\\d+\\]/.test(x.textContent)) &&"
                " document.querySelector('.jp-Notebook-ExecutionIndicator')"
                ".getAttribute('data-status') === 'idle';"
            ),
            timeout,
            "every cell to have run",
        )

    def save(self) -> None:
        """File > Save Notebook, and wait until the document is no longer dirty."""
        self.command("docmanager:save", "File")
        self.wait_for(
            lambda: not self.driver.find_elements("css selector", ".jp-mod-dirty"),
            20,
            "the save to finish",
        )

    def button(self, label: str, *, within: str = "body", index: int = 0) -> Any:
        """The ``index``-th visible widget button labelled ``label`` inside ``within``."""
        from selenium.webdriver.common.by import By

        found = [
            b
            for b in self.driver.find_elements(By.CSS_SELECTOR, f"{within} button.widget-button")
            if b.text.strip() == label and b.is_displayed()
        ]
        if len(found) <= index:
            raise AssertionError(f"no visible widget button {label!r} in {within}")
        return found[index]

    def visible_text(self, selector: str = ".jp-Notebook") -> str:
        """The visible text of the first element matching ``selector``."""
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return "\n".join(str(e.text) for e in found if e.is_displayed())

    def wait_for(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll ``ready`` until it returns something truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = ready()
            except Exception:  # noqa: BLE001 - the page is still changing under us
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.25)
