"""MLflow models-from-code entry: MLflow runs this file to build the pyfunc (no pickle)."""

from mlflow.models import set_model

from training.pyfunc import TierwiseModel

set_model(TierwiseModel())
