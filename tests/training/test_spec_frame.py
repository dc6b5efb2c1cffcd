"""encode_frame's column-at-once category codes agree with the row path for every dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.spec import FeatureSpec

SPEC = FeatureSpec(
    ("status", "flag", "tier", "score"),
    {"status": ("active", "lapsed"), "flag": ("1", "True"), "tier": ("gold",)},
)
FRAME = pd.DataFrame(
    {
        "status": pd.Series(["lapsed", None, "active", "exited"], dtype="str"),
        "flag": pd.Series([1, True, None, 2], dtype="object"),  # 1 and True are two levels
        "tier": pd.Categorical(["gold", "silver", None, "gold"]),
        "score": [0.5, np.nan, 1.0, 2.0],
    }
)


def test_frame_and_rows_encode_every_dtype_alike() -> None:
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in FRAME.to_dict("records")
    ]
    np.testing.assert_array_equal(SPEC.encode_frame(FRAME), SPEC.encode(rows))


def test_typed_categories_map_levels_and_leave_the_rest_missing() -> None:
    x = SPEC.encode_frame(FRAME)
    np.testing.assert_array_equal(x[:, 0], [1.0, np.nan, 0.0, np.nan])
    np.testing.assert_array_equal(x[:, 1], [0.0, 1.0, np.nan, np.nan])
    np.testing.assert_array_equal(x[:, 2], [0.0, np.nan, np.nan, 0.0])
