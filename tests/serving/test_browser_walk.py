"""Walk every review page in a real Chromium, as a manager and as an admin, on a real plan.

The plan is what `tierwise weekly` makes of the simulated program with the trained champions
(the demo's own pipeline, small). Every page linked from the plan is opened, filters applied,
the CSV downloaded, an override set and each review decision taken: every response must be
200 or 303 and the console must stay free of errors. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.auth import hash_key
from tests.conftest import missing
from tests.serving.conftest import SESSION_SECRET
from tests.serving.test_browser import ARGS, ARTIFACTS, CHROMIUM, _free_port
from tierwise.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
OK = {200, 303, 304}


@pytest.fixture(scope="module")
def planned(served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """The weekly plan of the served program (real rules, real champions), in its own DB."""
    from serving.weekly import run_week
    from serving.weeks import week_of
    from simulation.program import default_end

    folder = tmp_path_factory.mktemp("walk")
    settings = Settings(
        data_dir=served_dir,
        database_url=f"sqlite:///{folder / 'tierwise.db'}",
        reload_interval_s=0,
        session_secret=SESSION_SECRET,
    )
    week = week_of(default_end())
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        run_week(settings, data_dir=served_dir, week=week)
    return settings, week


@pytest.fixture(scope="module")
def server(planned: tuple[Settings, str]) -> Iterator[tuple[str, dict[str, str], str]]:
    if not Path(CHROMIUM).exists():
        missing("BROWSER", "chromium is not installed (apt-get install chromium)")
    settings, week = planned
    from sqlalchemy import func, select

    from serving.db import PlanAction, get_engine, session_scope

    with session_scope(get_engine(settings.db_url)) as session:
        manager = session.scalars(
            select(PlanAction.manager_id)
            .group_by(PlanAction.manager_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    keys = {"manager": "walk-manager-key", "admin": "walk-admin-key"}
    entries = [
        {"key_sha256": hash_key(keys["manager"]), "role": "manager", "manager_id": manager},
        {"key_sha256": hash_key(keys["admin"]), "role": "admin"},
    ]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TIERWISE_"))}
    env.update(
        {
            "TIERWISE_API_KEYS": json.dumps(entries),
            "TIERWISE_DATABASE_URL": settings.db_url,
            "TIERWISE_RELOAD_INTERVAL_S": "0",
            "TIERWISE_SESSION_SECRET": SESSION_SECRET,
        }
    )
    cmd = [sys.executable, "-c", "from tierwise.shell.cli import app; app()", "serve"]
    cmd += ["--data", str(settings.data_dir), "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail("tierwise serve exited")
            time.sleep(0.2)
        else:
            pytest.fail("tierwise serve did not become ready")
        yield base, keys, week
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Walk:
    """Records every document/fetch response and every console error of a page."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.bad: list[str] = []
        self.errors: list[str] = []
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} at {message.location.get('url', '')}")

    def _response(self, response: Any) -> None:
        kind = response.request.resource_type
        if kind in ("document", "fetch", "xhr", "stylesheet", "script") and (
            response.status not in OK
        ):
            self.bad.append(f"{response.status} {response.request.method} {response.url}")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"), full_page=True)


def _links(page: Any, prefix: str, within: str = "") -> list[str]:
    hrefs = page.eval_on_selector_all(
        f"{within} a[href]".strip(), "els => els.map(e => e.getAttribute('href'))"
    )
    return sorted({h for h in hrefs if h and h.startswith(prefix)})


def _walk(base: str, key: str, role: str, week: str) -> Walk:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        walk = Walk(page)
        page.goto(f"{base}/review/login")
        page.fill("#key", key)
        page.click("#sign-in")
        expect(page).to_have_url(f"{base}/review/plans/{week}")
        walk.shot(f"{role}-plan")

        for name in ("action", "tier", "region", "manager"):  # each filter, first option
            select = page.locator(f"#filter-{name}")
            if select.count() == 0:
                continue
            values = [v for v in select.locator("option").all_inner_texts() if v.strip()]
            options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            choice = next((v for v in options if v), None)
            if choice is None or not values:
                continue
            page.goto(f"{base}/review/plans/{week}?{name}={choice}")
            assert page.locator("body").count() == 1
        walk.shot(f"{role}-filtered")

        page.goto(f"{base}/review/plans/{week}")
        csv = page.request.get(f"{base}/review/plans/{week}/export.csv")
        assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
        assert csv.text().splitlines()[0].startswith("manager_rank")

        # a manager opens every partner page the plan links; an admin (whose plan lists every
        # manager's partners) those of the planned actions, to keep the suite's time small
        partners = _links(page, "/review/partners/", "" if role == "manager" else "article.action")
        assert partners, "the plan links no partner page"
        for href in partners:
            response = page.goto(base + href)
            assert response is not None and response.status == 200, href
        walk.shot(f"{role}-partner")

        page.goto(base + partners[0])  # an override, chosen from the partner's track tiers
        form = page.locator("form[action$='/override']")
        tier = form.locator("select[name=tier]")
        choice = tier.locator("option").evaluate_all("os => os.map(o => o.value)")
        tier.select_option([v for v in choice if v][-1])
        form.locator("input[name=reason]").fill(f"walk by {role}")
        until = (date.today() + timedelta(days=30)).isoformat()
        form.locator("input[name=until]").fill(until)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.url.endswith(partners[0])

        page.goto(f"{base}/review/plans/{week}")
        cards = page.locator("article.action")
        assert cards.count() >= 4, "too few actions to take every decision"
        ids = [cards.nth(i).get_attribute("data-action-id") for i in range(4)]
        page.locator(f"#action-{ids[0]} button.accept").click()
        page.wait_for_load_state()
        page.locator(f"#action-{ids[1]} input[name=reason]").fill("walked")
        page.locator(f"#action-{ids[1]} button.dismiss").click()
        page.wait_for_load_state()
        page.locator(f"#action-{ids[2]} input[name=until]").fill(until)
        page.locator(f"#action-{ids[2]} button.snooze").click()
        page.wait_for_load_state()
        done = page.locator(f"#action-{ids[3]} button.done")
        if done.count():
            done.click()
            page.wait_for_load_state()
        walk.shot(f"{role}-reviewed")
        page.locator("form[action='/review/logout'] button").click()
        page.wait_for_load_state()
        browser.close()
    return walk


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_every_review_page_answers_and_logs_no_error(
    server: tuple[str, dict[str, str], str], role: str
) -> None:
    base, keys, week = server
    walk = _walk(base, keys[role], role, week)
    assert not walk.bad, walk.bad
    assert not walk.errors, walk.errors
