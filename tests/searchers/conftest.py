"""Priors the searcher tests share."""

from __future__ import annotations

import pytest

import meta_tune.priors
from tests.priors.test_prior import SPACE, make_history


@pytest.fixture(scope="session")
def related() -> meta_tune.priors.Prior:
    """Every training task is good at x = 0.7, lr = 1e-2, tanh (``tests.priors.test_prior``)."""
    return meta_tune.priors.fit(make_history(seed=1), space=SPACE, metric="acc", mode="max")
