from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierwise.errors import InvalidInput
from training.spec import FeatureSpec

FRAME = pd.DataFrame(
    {
        "region": ["EMEA", "AMER", None, "EMEA"],
        "size": [10.0, np.nan, 3.0, 4.0],
        "onboarded": [True, False, True, True],
    }
)


def spec() -> FeatureSpec:
    return FeatureSpec.from_frame(FRAME, ["region", "size", "onboarded"])


def test_text_columns_become_categories_with_sorted_levels() -> None:
    assert spec().categories == {"region": ("AMER", "EMEA")}


def test_encode_frame_uses_level_codes_and_keeps_missing() -> None:
    x = spec().encode_frame(FRAME)
    assert x[:, 0].tolist()[:2] == [1.0, 0.0] and math.isnan(x[2, 0])
    assert math.isnan(x[1, 1]) and x[:, 2].tolist() == [1.0, 0.0, 1.0, 1.0]


def test_unknown_category_is_missing() -> None:
    x = spec().encode_frame(FRAME.assign(region=["LATAM", "EMEA", "AMER", "EMEA"]))
    assert math.isnan(x[0, 0])


def test_encode_rows_agrees_with_encode_frame() -> None:
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in FRAME.to_dict("records")
    ]
    np.testing.assert_array_equal(spec().encode(rows), spec().encode_frame(FRAME))


def test_absent_key_in_a_row_is_missing() -> None:
    x = spec().encode([{"region": "AMER"}])
    assert x[0, 0] == 0.0 and np.isnan(x[0, 1:]).all()


def test_text_in_a_numeric_feature_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidInput) as err:
        spec().encode([{"size": "ten"}])
    assert err.value.problems[0].column == "size" and err.value.problems[0].value == "ten"


def test_frame_missing_a_feature_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="lacks 1 model feature"):
        spec().encode_frame(FRAME.drop(columns="size"))


def test_round_trips_through_json(tmp_path: Path) -> None:
    path = spec().save(tmp_path / "spec.json")
    assert FeatureSpec.load(path) == spec()
