"""Labels, time-based splits, LightGBM + baseline models, evaluation, MLflow registry."""
