"""The floor for bench_serving.py: a bare FastAPI app that predicts one row with the same
churn booster (no auth, no rules, no validation beyond JSON, no metrics, no middleware).

    FLOOR_DATA=DIR uvicorn floor_app:create --factory --app-dir bench --workers 2
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI, Request, Response


def create() -> FastAPI:
    from tierwise.settings import Settings
    from training.scorer import load_scorer

    settings = Settings(data_dir=Path(os.environ["FLOOR_DATA"]))
    churn = load_scorer(settings.churn_model, settings.model_alias, settings.mlflow_tracking_uri)
    app = FastAPI()

    @app.post("/score")
    async def score(request: Request) -> Response:
        row = json.loads(await request.body())["features"]
        risk = float(churn.predict(churn.encode([row]))[0])
        return Response(json.dumps({"churn_risk": risk}), media_type="application/json")

    return app
