"""ETag / If-None-Match on rules and models (plans: tests/serving/test_plans_api.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serving.etag import matches
from tests.serving.conftest import headers


@pytest.mark.parametrize("path", ["/v1/rules", "/v1/models"])
def test_an_unchanged_answer_is_304(client: TestClient, path: str) -> None:
    first = client.get(path, headers=headers("scorer"))
    tag = first.headers["etag"]
    again = client.get(path, headers={**headers("scorer"), "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    stale = client.get(path, headers={**headers("scorer"), "If-None-Match": '"old"'})
    assert stale.status_code == 200 and stale.json() == first.json()


def test_if_none_match_lists_and_weak_tags() -> None:
    assert matches('"a", W/"b"', '"b"')
    assert matches("*", '"x"')
    assert not matches(None, '"x"') and not matches('"y"', '"x"')
