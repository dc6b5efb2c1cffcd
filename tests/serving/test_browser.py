"""The review page in a real headless Chromium against a real uvicorn (Playwright)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing
from tests.serving._db import key_of, seed_plan

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WEEK = "2026-W48"
SERVER = """
import sys, uvicorn
from tests.serving._db import make_app, review_settings
from pathlib import Path
settings = review_settings(sys.argv[1], Path(sys.argv[2]))
uvicorn.run(make_app(settings), host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    if not Path(CHROMIUM).exists():
        missing("BROWSER", "chromium is not installed (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'tierwise.db'}"
    seed_plan(url)
    theirs = _an_action_of(url, "m2")
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(folder), str(port)], cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not start")
        yield base, theirs
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _an_action_of(url: str, manager: str) -> int:
    from sqlalchemy import select

    from serving.db import PlanAction, get_engine, session_scope

    with session_scope(get_engine(url)) as session:
        stmt = select(PlanAction.id).where(PlanAction.manager_id == manager).limit(1)
        return int(session.scalars(stmt).one())


def test_a_manager_reviews_the_plan_in_a_browser(server: tuple[str, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    server_url, theirs = server

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 414, "height": 900})  # a phone
        page.goto(f"{server_url}/review/login")
        page.fill("#key", key_of("ann"))
        page.click("#sign-in")
        expect(page).to_have_url(f"{server_url}/review/plans/{WEEK}")

        page.select_option("#filter-action", "action_0")  # JS submits on change
        page.wait_for_url("**action=action_0**")
        types = page.locator("article.action .action-type").all_inner_texts()
        assert types and set(types) == {"action_0"}

        cards = page.locator("article.action")
        first, second = (cards.nth(i).get_attribute("data-action-id") for i in (0, 1))
        page.locator(f"#action-{first} button.accept").click()
        page.wait_for_load_state()
        page.locator(f"#action-{second} input[name=reason]").fill("already in touch")
        page.locator(f"#action-{second} button.dismiss").click()
        page.wait_for_load_state()

        page.reload()
        expect(page.locator(f"#action-{first} .status")).to_have_text("accepted")
        expect(page.locator(f"#action-{second} .status")).to_have_text("dismissed")
        expect(page.locator(f"#action-{second}")).to_contain_text("already in touch")
        expect(page.locator("script:not([src])")).to_have_count(0)  # the name stayed text
        ARTIFACTS.mkdir(exist_ok=True)
        page.goto(f"{server_url}/review/plans/{WEEK}")
        page.screenshot(path=str(ARTIFACTS / "plan-page.png"), full_page=True)

        response = page.goto(f"{server_url}/review/partners/P001")  # Bob's partner
        assert response is not None and response.status == 403
        page.goto(f"{server_url}/review/plans/{WEEK}")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        status = page.evaluate(
            """async ([csrf, id]) => {
                const body = new URLSearchParams({decision: "accept", csrf});
                const r = await fetch(`/review/actions/${id}`, {method: "POST", body,
                                                                  redirect: "manual"});
                return r.status;
            }""",
            [csrf, theirs],
        )
        assert status == 403  # Bob's action, with Ann's own valid session and CSRF token
        browser.close()
