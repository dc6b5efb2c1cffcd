"""MLflow models-from-code entry of the propensity table (no pickle)."""

from mlflow.models import set_model

from training.propensity_registry import PropensityModel

set_model(PropensityModel())
