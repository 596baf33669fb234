"""A running demo and Debian's Chromium driven by Playwright: the console as its users see it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.incidents.helpers import free_port

CHROMIUM = "/usr/bin/chromium"
ADMIN = "e2e-admin-token-7c1d"
PASSWORD = "hazwatch-demo"


def need(what: str, ok: bool) -> None:
    if ok:
        return
    if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[str]:
    """`hazwatch demo` as a user starts it, on a free port, for the module."""
    port = free_port()
    data = tmp_path_factory.mktemp("demo")
    proc = subprocess.Popen([sys.executable, "-m", "hazwatch.cli.main", "demo", "--port", str(port), "--data-dir",
                             str(data), "--duration", "900"], env={**os.environ, "HAZWATCH_ADMIN_TOKEN": ADMIN},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the demo did not come up")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API holds an event loop on this thread while it is open,
    and the asyncio tests that run after this module must not find one."""
    need("Chromium (apt-get install chromium)", Path(CHROMIUM).exists() or shutil.which("chromium") is not None)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def admin(demo) -> httpx.Client:
    with httpx.Client(base_url=demo + "/api/v1", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10) as c:
        yield c


def open_console(browser, demo: str, user: str, password: str = PASSWORD, lang: str = "en"):
    """A fresh browser context logged in as `user`; the page's JavaScript errors fail the test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(f"localStorage.setItem('hz.lang', '{lang}')")
    page.goto(demo + "/console/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#alarms tbody tr", timeout=20_000)
    page.wait_for_selector("body[data-live='1']", timeout=10_000)  # the live stream is open
    page.errors = errors
    return page
