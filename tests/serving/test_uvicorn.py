"""The real thing: `tierwise serve` in a subprocess (uvicorn + uvloop + httptools) on a port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.auth import hash_key
from tests.serving.conftest import score_body

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TIERWISE_"))}
    env.update(
        {
            "TIERWISE_API_KEYS": json.dumps(
                [{"key_sha256": hash_key("live-key"), "role": "scorer"}]
            ),
            "TIERWISE_RELOAD_INTERVAL_S": "0",
            "TIERWISE_SESSION_SECRET": "tests-only-session-secret-0123456789",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    cmd = [
        sys.executable,
        "-c",
        "from tierwise.shell.cli import app; app()",
        "serve",
        "--data",
        str(served_dir),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    out = log.open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {log.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail(f"server not ready within 90 s: {log.read_text()}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def test_score_over_a_real_socket(
    server: str, feature_frame: tuple[pd.DataFrame, datetime]
) -> None:
    body = score_body(*feature_frame, row=5)
    with httpx.Client(base_url=server, headers={"X-API-Key": "live-key"}) as c:
        first = c.post("/v1/score", json=body)
        second = c.post("/v1/score", json=body)  # same keep-alive connection
    assert first.status_code == 200, first.text
    assert first.json() == second.json()
    assert first.json()["versions"]["models"][0]["name"] == "tierwise-churn"


def test_errors_over_a_real_socket_are_problem_json(server: str) -> None:
    r = httpx.post(
        f"{server}/v1/score", json={"partner_id": "P1"}, headers={"X-API-Key": "live-key"}
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert httpx.post(f"{server}/v1/score", json={}).status_code == 401
    big = b'{"x": "' + b"a" * 3_000_000 + b'"}'
    r = httpx.post(
        f"{server}/v1/score",
        content=big,
        headers={"X-API-Key": "live-key", "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_metrics_over_a_real_socket(server: str) -> None:
    text = httpx.get(f"{server}/metrics").text
    assert "tierwise_ready 1.0" in text
