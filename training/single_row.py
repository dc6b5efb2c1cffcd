"""LightGBM's single-row prediction for the request path (one partner per call).

`lightgbm.Booster.predict` sets up a predictor, checks and converts its input on every call
(~20 µs of Python for one row); the C API's `LGBM_BoosterPredictForMatSingleRowFast` does the
setup once (`...FastInit`) and then predicts a float64 row in place. Same booster, same
parameters (`num_threads=1`, the booster's best iteration): the same numbers as
`Booster.predict` (a test binds the two). Safe from several threads: LightGBM guards its
single-row predictor with a mutex (uncontended here: one request at a time per event loop).
"""

from __future__ import annotations

import ctypes
import weakref

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call

PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: with the objective's transform (probability)
DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class SingleRowPredictor:
    """Predicts one float64 row of `booster`; the C configuration is freed with the object."""

    def __init__(self, booster: lgb.Booster, *, parameters: str = "num_threads=1") -> None:
        self.booster = booster  # the handle must outlive the configuration
        self.n_features = booster.num_feature()
        self.n_out = booster.num_model_per_iteration()
        self._config = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(booster.best_iteration),
                ctypes.c_int(DTYPE_FLOAT64),
                ctypes.c_int32(self.n_features),
                ctypes.c_char_p(parameters.encode()),
                ctypes.byref(self._config),
            )
        )
        weakref.finalize(self, _LIB.LGBM_FastConfigFree, self._config)

    def predict(self, row: np.ndarray) -> np.ndarray:
        """The prediction(s) for one row: shape (1,) for a binary model."""
        row = np.ascontiguousarray(row, dtype=np.float64)
        if row.size != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {row.size}")
        out = np.empty(self.n_out, dtype=np.float64)
        out_len = ctypes.c_int64(0)
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                self._config,
                ctypes.c_void_p(row.ctypes.data),
                ctypes.byref(out_len),
                ctypes.c_void_p(out.ctypes.data),
            )
        )
        return out
