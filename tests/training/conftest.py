"""Shared training fixtures: a small synthetic program and models fitted on it (once)."""

from __future__ import annotations

import pytest

from features.tables import Tables
from tests.training.program import FakeTruth, make_program
from training.evaluation import Evaluation
from training.fit import Fitted
from training.train import fit_model


@pytest.fixture(scope="session")
def program() -> tuple[Tables, FakeTruth]:
    return make_program(partners=400, years=2.0, seed=3)


@pytest.fixture(scope="session")
def fitted_churn(program: tuple[Tables, FakeTruth]) -> tuple[Fitted, Evaluation]:
    tables, truth = program
    return fit_model("churn", tables, horizon_days=90, truth=truth, rolling="off")


@pytest.fixture(scope="session")
def fitted_deal(program: tuple[Tables, FakeTruth]) -> tuple[Fitted, Evaluation]:
    tables, truth = program
    return fit_model("deal", tables, horizon_days=90, truth=truth)
