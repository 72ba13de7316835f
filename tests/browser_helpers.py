"""JupyterLab driven by a real browser, for tests/labs/test_browser.py: the venv's ``jupyter lab``
on a student workspace, Debian's Chromium through Playwright, and what a student does with a lab:
open it, run all cells from the Run menu, wait for the kernel, save.

What the run did is judged from the SAVED notebook, never by counting prompts in the page:
JupyterLab 4 renders only the cells in view.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import nbformat
from playwright.sync_api import Page, sync_playwright

from mllab.serve.process import free_port, wait_until_ready

#: Debian's Chromium (``apt-get install -y chromium``); Playwright never downloads a browser here
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
#: headless, and nothing of Chromium's own that reaches for the internet
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: JupyterLab's own routes that fetch from the internet on the server's side (news, updates)
ONLINE_ROUTES = ("/lab/api/news", "/lab/api/update")
IDLE = "idle"
#: the notebook panel in front (others opened before stay in the DOM, hidden)
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def find_chromium() -> str | None:
    """The path of a Chromium executable on this machine, or None."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token and the folder it serves."""

    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str) -> Any:
        """GET a REST path of the server (``/api/sessions``) as JSON."""
        answer = httpx.get(f"{self.url}{path}", params={"token": self.token}, timeout=10.0)
        answer.raise_for_status()
        return answer.json()

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"

    def kernel_of(self, notebook: str) -> dict[str, Any]:
        """The kernel of the session that has ``notebook`` open (name, execution_state, ...);
        empty while JupyterLab has not started one."""
        for session in self.api("/api/sessions"):
            if session.get("path") == notebook:
                return session.get("kernel") or {}
        return {}


@contextmanager
def jupyter_lab(
    root: Path, log: Path, env: dict[str, str], timeout: float = 180.0
) -> Iterator[Lab]:
    """``jupyter lab`` of this venv serving ``root`` on a free localhost port with a random token;
    stopped (and its kernels with it) when the block ends. Its output goes to ``log``.

    The user's own Jupyter config, settings and workspaces are kept out (a fresh folder beside
    ``log``): the test judges the environment's settings, and leaves the user's state alone."""
    port, token = free_port(), secrets.token_hex(16)
    state = log.parent / "jupyter-user"
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1"]
    command += [f"--ServerApp.token={token}", "--notebook-dir", str(root)]
    command += [f"--LabApp.user_settings_dir={state / 'settings'}"]
    command += [f"--LabApp.workspaces_dir={state / 'workspaces'}"]
    env = {**env, "JUPYTER_CONFIG_DIR": str(state / "config")}
    if os.geteuid() == 0:  # CI runs as root; jupyter refuses without this
        command.append("--allow-root")
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log)
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_until_ready(f"{lab.url}/api/status?token={token}", timeout, process=server)
            yield lab
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@dataclass
class Requests:
    """Every URL the page asked for; the ones that left localhost, or hit an online route."""

    urls: list[str] = field(default_factory=list)

    def add(self, url: str) -> None:
        self.urls.append(url)

    def offsite(self) -> list[str]:
        hosts = (urlsplit(u) for u in self.urls)
        return [
            u.geturl()
            for u in hosts
            if u.scheme in ("http", "https", "ws", "wss")
            if u.hostname not in LOCAL_HOSTS
        ]

    def online_routes(self) -> list[str]:
        return [u for u in self.urls if urlsplit(u).path.endswith(ONLINE_ROUTES)]


@contextmanager
def chromium_page(executable: str, requests: Requests) -> Iterator[Page]:
    """A headless Chromium page (a tall window, so more cells are in view) that records every
    request it makes into ``requests``."""
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            context.on("request", lambda request: requests.add(request.url))
            page = context.new_page()
            page.on("websocket", lambda socket: requests.add(socket.url))  # the kernel's channels
            yield page
        finally:
            browser.close()


def open_notebook(page: Page, lab: Lab, notebook: str, timeout_s: float = 120.0) -> str:
    """Open ``notebook`` in JupyterLab and wait until its kernel is idle; the kernel's display
    name shown in the notebook's toolbar."""
    page.goto(lab.page_url(notebook))
    page.wait_for_selector(f"{CURRENT} .jp-Notebook", timeout=timeout_s * 1000)
    wait_idle(page, lab, notebook, timeout_s, settle_s=1.0)
    return page.locator(f"{CURRENT} .jp-Toolbar-kernelName").inner_text().strip()


def click_menu(page: Page, menu: str, item: str) -> None:
    """Click ``item`` in the main menu ``menu`` (``Run`` → ``Run All Cells``)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    label = re.compile(f"^{re.escape(item)}$")
    page.locator(".lm-Menu-content .lm-Menu-itemLabel", has_text=label).first.click()


def indicator(page: Page) -> str:
    """The notebook toolbar's kernel status (``idle``, ``busy``, ``starting``, ...)."""
    node = page.locator(f"{CURRENT} .jp-Notebook-ExecutionIndicator")
    return node.get_attribute("data-status") or "unknown"


def wait_idle(
    page: Page, lab: Lab, notebook: str, timeout_s: float, settle_s: float = 3.0
) -> float:
    """Wait until the page's indicator and the server's kernel both say idle for ``settle_s``
    seconds in a row (cells queued by Run All keep them busy between cells); the seconds waited."""
    start = time.monotonic()
    idle_since = None
    while True:
        now = time.monotonic()
        shown, kernel = indicator(page), lab.kernel_of(notebook).get("execution_state")
        if shown == IDLE and kernel == IDLE:
            idle_since = idle_since or now
            if now - idle_since >= settle_s:
                return now - start
        else:
            idle_since = None
        if now - start > timeout_s:
            raise AssertionError(f"kernel not idle after {timeout_s:g} s: page {shown}, {kernel}")
        time.sleep(0.5)


def wait_busy(page: Page, lab: Lab, notebook: str, timeout_s: float = 20) -> None:
    """Wait until the run has started (page or kernel busy), so that an idle seen before the
    first cell is not taken for the end; a notebook done within one poll goes on quietly."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if IDLE not in (indicator(page), lab.kernel_of(notebook).get("execution_state")):
            return
        time.sleep(0.2)


def show_first(page: Page, selector: str) -> bool:
    """Scroll the first element matching ``selector`` in the current notebook into view;
    whether the page has one (JupyterLab may not have rendered cells far from the view)."""
    node = page.locator(f"{CURRENT} {selector}").first
    if not node.count():
        return False
    node.scroll_into_view_if_needed()
    return node.is_visible()


def save(page: Page, timeout_s: float = 30.0) -> None:
    """Save the notebook (File → Save Notebook) and wait until its tab is no longer dirty."""
    click_menu(page, "File", "Save Notebook")
    dirty = page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")
    dirty.wait_for(state="detached", timeout=timeout_s * 1000)


def run_all_and_save(page: Page, lab: Lab, notebook: str, timeout_s: float) -> float:
    """Run → Run All Cells, wait for the kernel, save; the seconds the run took."""
    click_menu(page, "Run", "Run All Cells")
    wait_busy(page, lab, notebook)
    seconds = wait_idle(page, lab, notebook, timeout_s)
    save(page)
    return seconds


@dataclass
class Executed:
    """What the saved notebook says about a run."""

    code_cells: int
    not_executed: list[int]
    errors: list[str]
    image_cells: list[int]
    text: str

    @classmethod
    def read(cls, path: Path) -> Executed:
        nb = nbformat.read(path, as_version=4)
        cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        not_executed, errors, images, text = [], [], [], []
        for index, cell in cells:
            if cell.get("execution_count") is None:
                not_executed.append(index)
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    errors.append(f"cell {index}: {output.ename}: {output.evalue}")
                if "image/png" in output.get("data", {}):
                    images.append(index)
                text.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
        return cls(len(cells), not_executed, errors, images, "\n".join(text))


def plant_wrong_answer(source: Path, target: Path, answer: str = "return None") -> str:
    """Copy a student edition with its first exercise answered wrongly (``answer`` in place of
    ``raise NotImplementedError()``); the exercise's grade id."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and "raise NotImplementedError()" in cell.source:
            cell.source = cell.source.replace("raise NotImplementedError()", answer, 1)
            nbformat.write(nb, target)
            return meta["grade_id"]
    raise AssertionError(f"{source.name} has no unfinished exercise to plant an answer in")
