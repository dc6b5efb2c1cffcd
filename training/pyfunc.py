"""The MLflow pyfunc model: the Scorer behind MLflow's generic model interface.

Artifacts: the LightGBM booster (text), the calibrator (JSON) and the feature spec (JSON).
`mlflow.pyfunc.load_model("models:/tierwise-churn@champion")` and `mlflow models serve`
both land here; the probabilities come from the same `Scorer` code serving uses.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from training.scorer import Scorer

OUTPUT = "probability"


class TierwiseModel(PythonModel):
    """Calibrated probability per input row (column `probability`)."""

    scorer: Scorer

    def load_context(self, context: Any) -> None:
        self.scorer = Scorer.from_files(context.artifacts)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        # a column the client leaves out is a missing value, as in Scorer.encode
        x = self.scorer.encode_frame(model_input.reindex(columns=self.scorer.inputs))
        return pd.DataFrame({OUTPUT: self.scorer.predict(x)}, index=model_input.index)
