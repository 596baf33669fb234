"""Regenerate docs/screenshots/: the console's main pages on a running demo, as the regulator sees
them (the whole park), in Chinese and English.

    python scripts/screenshots.py [--wait 75]      (or: make screenshots)

Needs Debian's Chromium (/usr/bin/chromium) and the console's assets (npm ci --prefix web)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
TOKEN = "screenshot-admin-token"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait", type=float, default=75, help="seconds of the fault cycle before the pictures")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="hz-shots-")
    demo = subprocess.Popen([sys.executable, "-m", "hazwatch.cli.main", "demo", "--port", str(port), "--data-dir", data,
                             "--duration", str(args.wait + 300)], env={**os.environ, "HAZWATCH_ADMIN_TOKEN": TOKEN},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(args.wait)
        alarm = next(a for a in httpx.get(f"{base}/api/v1/alarms", params={"state": "all"},
                                          headers={"Authorization": f"Bearer {TOKEN}"}).json()["items"])
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for lang in ("zh", "en"):
                page = browser.new_context(viewport={"width": 1360, "height": 820}).new_page()
                page.add_init_script(f"localStorage.setItem('hz.lang', '{lang}')")
                page.goto(base + "/console/")
                page.fill("input[name=username]", "regulator@R-JS")
                page.fill("input[name=password]", "hazwatch-demo")
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#alarms tr[data-id]")
                page.locator("#alarms tr[data-id]").first.click()
                page.wait_for_selector("#journal .panel")
                page.screenshot(path=OUT / f"alarms-{lang}.png")
                if lang == "en":
                    continue
                shots = {"overview": "#/overview", "live": "#/live", "trend": "#/trend/R502-TT,R502-PT?range=15m",
                         "packs": "#/packs", "incidents": "#/incidents", "ledger": "#/ledger"}
                for name, hash_ in shots.items():
                    page.goto(base + "/console/" + hash_)
                    page.wait_for_timeout(1500)
                    if name == "incidents" and page.locator("#incidents tr[data-id]").count():
                        page.locator("#incidents tr[data-id]").first.click()
                        page.wait_for_timeout(800)
                    if name == "ledger":
                        page.fill("#verify input[name=alarm]", str(alarm["id"]))
                        row = httpx.get(f"{base}/api/v1/alarms/{alarm['id']}/journal",
                                        headers={"Authorization": f"Bearer {TOKEN}"}).json()["items"][0]["id"]
                        page.fill("#verify input[name=row]", str(row))
                        page.click("#verify button")
                        page.wait_for_timeout(1000)
                    page.screenshot(path=OUT / f"{name}-{lang}.png")
            browser.close()
        print(f"screenshots written to {OUT}")
    finally:
        demo.terminate()
        demo.wait(timeout=30)


if __name__ == "__main__":
    main()
