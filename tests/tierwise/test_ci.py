"""CI fails instead of skipping when PostgreSQL or Chromium is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[2]


def test_ci_requires_postgres_and_the_browser_and_hides_no_failure() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "|| true" not in script
    assert "TIERWISE_REQUIRE_PG=1" in script
    assert "TIERWISE_REQUIRE_BROWSER=1" in script


@pytest.mark.parametrize("component", ["PG", "BROWSER"])
def test_a_required_component_that_is_missing_fails(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"TIERWISE_REQUIRE_{component}", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE"):
        missing(component, "not here")


def test_an_optional_component_that_is_missing_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERWISE_REQUIRE_PG", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing("PG", "not here")
