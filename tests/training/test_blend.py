"""The lapsed-segment blend: applied to that segment only, kept only when it ranks better."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np

from training.blend import SegmentBlend, choose_blend
from training.calibration import Calibrator
from training.scorer import Scorer
from training.spec import FeatureSpec

SPEC = FeatureSpec(
    ("lifecycle_status", "bgnbd_p_quiet"), {"lifecycle_status": ("active", "lapsed", "new")}
)


def sample(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status codes, a reference that knows the lapsed outcome, a model that does not."""
    rng = np.random.default_rng(seed)
    status = rng.integers(0, 3, n).astype(np.float64)
    risk = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < risk).astype(np.float64)
    lapsed = status == 1
    reference = np.where(lapsed, risk, rng.uniform(0, 1, n))
    raw = np.where(lapsed, rng.uniform(0.05, 0.95, n), risk)
    return np.column_stack([status, reference]), y, raw


def test_blend_changes_the_lapsed_rows_only() -> None:
    x, _, raw = sample()
    out = SegmentBlend(0.5).apply(raw, x, SPEC)
    lapsed = x[:, 0] == 1
    np.testing.assert_array_equal(out[~lapsed], raw[~lapsed])
    assert not np.allclose(out[lapsed], raw[lapsed])


def test_a_missing_reference_keeps_the_model_score() -> None:
    x, _, raw = sample(50)
    x[:, 1] = np.nan
    np.testing.assert_array_equal(SegmentBlend(0.7).apply(raw, x, SPEC), raw)


def test_blend_is_chosen_when_the_reference_ranks_the_segment_better() -> None:
    x, y, raw = sample()
    blend = choose_blend(raw, x, y, SPEC)
    assert blend is not None and blend.weight >= 0.5
    assert blend.validation_auc[1] > blend.validation_auc[0]


def test_no_blend_when_the_reference_knows_nothing() -> None:
    x, y, raw = sample()
    x[:, 1] = np.random.default_rng(1).uniform(0, 1, len(x))  # noise everywhere
    raw = np.where(x[:, 0] == 1, np.clip(y * 0.6 + 0.2, 0, 1), raw)  # the model knows
    assert choose_blend(raw, x, y, SPEC) is None


def test_no_blend_without_the_segment_feature() -> None:
    x, y, raw = sample()
    spec = FeatureSpec(("lifecycle_status", "bgnbd_p_quiet"), {"lifecycle_status": ("active",)})
    assert choose_blend(raw, x, y, spec) is None


def test_a_scorer_saves_and_loads_its_blend(tmp_path: Path) -> None:
    x, y, _ = sample(400)
    data = lgb.Dataset(x, label=y, categorical_feature=[0], params={"verbosity": -1})
    booster = lgb.train({"objective": "binary", "verbosity": -1}, data, num_boost_round=5)
    scorer = Scorer(
        booster, Calibrator("identity"), SPEC, blend=SegmentBlend(0.4, validation_auc=(0.7, 0.75))
    )
    paths = scorer.save(tmp_path)
    assert paths["blend"].name == "blend.json"
    loaded = Scorer.from_dir(tmp_path)
    assert loaded.blend == scorer.blend
    np.testing.assert_allclose(loaded.predict(x), scorer.predict(x))
    plain = Scorer(booster, Calibrator("identity"), SPEC)
    assert not np.allclose(plain.predict(x), scorer.predict(x))
