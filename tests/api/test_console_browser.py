"""The console in a real browser: headless Chromium (the OS package) driven by Playwright.
Sign in, see the pending approval, click Approve, see it resolved. Also writes the
screenshot `docs/console.png` when EXECLAYER_UPDATE_SCREENSHOT=1."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from agents.resolver import Resolver
from api.app import create_app
from api.options import ApiOptions
from tests.api.conftest import KEYS, api_settings
from tests.conftest import CONTRACT_EXAMPLES, REPO
from tools.inputs import load_event, load_snapshot

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is absent: install the OS package (apt-get install -y chromium)",
    ),
]


@pytest.fixture
def server(home: Path) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 over a store holding every example exception."""
    settings = api_settings(home)
    with Resolver.open(settings, use_llm=False, use_memory=False) as resolver:
        resolver.store.load_snapshot(load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"))
        for path in sorted((CONTRACT_EXAMPLES / "events").glob("*.json")):
            resolver.resolve(load_event(path))
    app = create_app(
        settings,
        use_llm=False,
        use_memory=False,
        options=ApiOptions(_env_file=None),  # type: ignore[call-arg]
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=30)


def test_sign_in_see_pending_approve_and_see_it_resolved(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{server}/")
            expect(page).to_have_url(f"{server}/login?next=/")
            page.fill("#key", KEYS["approver"])
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Exception queue")
            card = page.locator("article.approval", has_text="EX-P4")
            expect(card).to_be_visible()
            expect(card).to_contain_text("promise 6 days later")
            shot = tmp_path / "console.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("EXECLAYER_UPDATE_SCREENSHOT"):
                shutil.copyfile(shot, REPO / "docs" / "console.png")
            card.locator("input[name=comment]").fill("customer agreed by phone")
            card.locator("button[value=approve]").click()
            expect(page).to_have_url(f"{server}/exceptions/EX-P4?notice=approved")
            expect(page.locator(".notice-ok")).to_contain_text("Approved")
            expect(page.locator("h1 .chip")).to_have_text("Resolved")
            expect(page.locator(".approval-line")).to_contain_text("alice")
            page.goto(f"{server}/?status=pending_approval")
            expect(page.locator("table.table tbody")).to_contain_text("No exceptions")
        finally:
            browser.close()
