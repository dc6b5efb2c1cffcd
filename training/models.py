"""The two learners: LightGBM (the model) and a logistic-regression pipeline (the baseline).

Both read the matrix that `FeatureSpec` encodes, so they see exactly the same examples.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass, replace

import lightgbm as lgb
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from training.spec import FeatureSpec

log = logging.getLogger(__name__)
# OpenMP threads only pay off on big data; on a busy 2-core box they slow small fits ~3x.
AUTO_THREADS_ROWS = 100_000


@dataclass(frozen=True)
class LgbConfig:
    """LightGBM settings: sensible defaults for tabular data of 10^4–10^6 rows."""

    learning_rate: float = 0.1
    max_bin: int = 127
    num_leaves: int = 31
    min_data_in_leaf: int = 200
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    cat_smooth: float = 10.0
    num_boost_round: int = 1000
    early_stopping_rounds: int = 30
    num_threads: int = 0  # 0 = auto: 1 thread below AUTO_THREADS_ROWS rows, else up to 2
    seed: int = 7

    def params(self) -> dict[str, object]:
        cfg = asdict(self)
        for key in ("num_boost_round", "early_stopping_rounds"):
            cfg.pop(key)
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "bagging_freq": 1,
            "verbosity": -1,
            "deterministic": True,
            "force_col_wise": True,
            **cfg,
        }


def auto_threads(rows: int) -> int:
    """2 OpenMP threads only for big data on an idle machine: on a busy shared box a second
    thread spins at every barrier and makes training several times slower (measured 5x)."""
    cpus = os.cpu_count() or 1
    busy = os.getloadavg()[0] > cpus - 0.5
    threads = 1 if rows < AUTO_THREADS_ROWS or busy else min(2, cpus)
    log.debug("LightGBM threads: %d (%d rows, load %.1f)", threads, rows, os.getloadavg()[0])
    return threads


def fit_lightgbm(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    spec: FeatureSpec,
    config: LgbConfig | None = None,
) -> lgb.Booster:
    """Train with early stopping on the validation period; categoricals handled natively."""
    config = config or LgbConfig()
    if config.num_threads == 0:
        config = replace(config, num_threads=auto_threads(len(x_train)))
    names = list(spec.features)
    cats = spec.categorical_indices
    train = lgb.Dataset(
        x_train, label=y_train, feature_name=names, categorical_feature=cats, free_raw_data=True
    )
    valid = lgb.Dataset(x_val, label=y_val, reference=train, categorical_feature=cats)
    booster = lgb.train(
        config.params(),
        train,
        num_boost_round=config.num_boost_round,
        valid_sets=[valid],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    log.info(
        "LightGBM: best iteration %d of %d", booster.best_iteration, booster.current_iteration()
    )
    return booster


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def fit_baseline(
    x_train: np.ndarray,
    y_train: np.ndarray,
    spec: FeatureSpec,
    *,
    max_rows: int = 50_000,
    seed: int = 7,
) -> Pipeline:
    """Logistic regression: impute (+ missing indicators), log-scale, standardise, one-hot."""
    cats = spec.categorical_indices
    nums = [i for i in range(len(spec.features)) if i not in set(cats)]
    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(_signed_log1p),
        StandardScaler(),
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
        OneHotEncoder(handle_unknown="ignore"),
    )
    pipe = Pipeline(
        [
            ("columns", ColumnTransformer([("num", numeric, nums), ("cat", categorical, cats)])),
            ("model", LogisticRegression(C=1.0, max_iter=300)),
        ]
    )
    if len(x_train) > max_rows:
        keep = np.random.default_rng(seed).choice(len(x_train), max_rows, replace=False)
        x_train, y_train = x_train[keep], y_train[keep]
    # one BLAS thread: OpenBLAS threads on a shared 2-core machine make lbfgs ~10x slower
    with (
        threadpool_limits(limits=1, user_api="blas"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", ConvergenceWarning)
        pipe.fit(x_train, y_train)
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            log.warning("baseline: %s", w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return pipe


def fit_lightgbm_rounds(
    x: np.ndarray, y: np.ndarray, spec: FeatureSpec, config: LgbConfig | None, *, rounds: int
) -> lgb.Booster:
    """Train for exactly `rounds` iterations (the refit on all labelled data: the count was
    chosen by early stopping on validation)."""
    config = config or LgbConfig()
    if config.num_threads == 0:
        config = replace(config, num_threads=auto_threads(len(x)))
    data = lgb.Dataset(
        x,
        label=y,
        feature_name=list(spec.features),
        categorical_feature=spec.categorical_indices,
        free_raw_data=True,
    )
    return lgb.train(config.params(), data, num_boost_round=max(rounds, 1))
