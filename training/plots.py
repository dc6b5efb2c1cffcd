"""Evaluation plots: ROC, calibration, gain importance, SHAP summary (Agg outside notebooks).

Each function returns a Figure; the caller logs it (mlflow.log_figure) or shows it (notebook).
"""

from __future__ import annotations

import sys
import warnings

import matplotlib

if "ipykernel" not in sys.modules:  # headless (CLI, MLflow runs, tests); notebooks keep inline
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from training.scorer import Scorer

SCORE_STYLE = {"model": "tab:blue", "baseline": "tab:orange", "oracle": "tab:green"}


def roc_figure(test: pd.DataFrame, label: str, title: str = "") -> Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    y = test[label].to_numpy()
    for score, color in SCORE_STYLE.items():
        if score in test.columns:
            ok = test[score].notna().to_numpy()
            fpr, tpr, _ = roc_curve(y[ok], test[score].to_numpy()[ok])
            ax.plot(fpr, tpr, color=color, label=score)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title or "ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def calibration_figure(test: pd.DataFrame, label: str, bins: int = 10, title: str = "") -> Figure:
    """Mean predicted probability vs observed rate per equal-width bin."""
    fig, ax = plt.subplots(figsize=(5, 5))
    y = test[label].to_numpy(dtype=np.float64)
    for score, color in SCORE_STYLE.items():
        if score not in test.columns:
            continue
        p = test[score].to_numpy(dtype=np.float64)
        ok = ~np.isnan(p)
        which = np.minimum((p[ok] * bins).astype(int), bins - 1)
        count = np.bincount(which, minlength=bins)
        seen = count > 0
        mean_p = np.bincount(which, p[ok], bins)[seen] / count[seen]
        rate = np.bincount(which, y[ok], bins)[seen] / count[seen]
        ax.plot(mean_p, rate, marker="o", color=color, label=score)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(
        xlabel="predicted probability",
        ylabel="observed rate",
        title=title or "Calibration",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def importance_figure(scorer: Scorer, top: int = 20, title: str = "") -> Figure:
    gain = scorer.booster.feature_importance(importance_type="gain")
    order = np.argsort(gain)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(order) + 1))
    ax.barh([scorer.features[i] for i in order], gain[order], color="tab:blue")
    ax.set(xlabel="total gain", title=title or "Feature importance (gain)")
    fig.tight_layout()
    return fig


def shap_figure(
    scorer: Scorer, x: np.ndarray, *, max_rows: int = 2000, seed: int = 7, title: str = ""
) -> Figure:
    """SHAP summary (beeswarm) from LightGBM's exact TreeSHAP contributions."""
    if len(x) > max_rows:
        x = x[np.random.default_rng(seed).choice(len(x), max_rows, replace=False)]
    contrib = scorer.contributions(x)
    frame = pd.DataFrame(x, columns=scorer.features)
    with warnings.catch_warnings():
        # shap's import and plotting trip matplotlib/numpy deprecations we cannot fix here
        warnings.simplefilter("ignore")
        import shap

        shap.summary_plot(contrib, frame, show=False, max_display=15, plot_size=(7, 6))
    fig = plt.gcf()
    fig.suptitle(title or "SHAP summary (log-odds)")
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
