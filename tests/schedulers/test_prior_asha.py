"""ASHA settings learned from how early ranks predicted final ranks on past tasks."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler

from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers import asha_from_history, choose_asha
from tests.schedulers.conftest import STEPS, synthetic_curves


def crossing_curves(*, tasks: int = 3, trials: int = 20, switch: int, seed: int = 0) -> pd.DataFrame:
    """Curves whose early ranks are the reverse of their final ranks until step ``switch``."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in range(tasks):
        for trial in range(trials):
            q = rng.random()
            for step in range(1, STEPS + 1):
                early = 0.6 - 0.2 * q + 0.001 * step
                late = 0.5 + 0.4 * q
                acc = early if step < switch else late
                rows.append({"task": f"t{task}", "trial": trial, "training_iteration": step, "acc": acc})
    return pd.DataFrame(rows)


def test_the_grace_period_is_the_first_step_whose_ranks_hold(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="meta_tune"):
        choice = choose_asha(crossing_curves(switch=6), metric="acc", mode="max")
    assert choice.grace_period == 6 and choice.max_t == STEPS
    assert choice.correlation.loc[5] < -0.9 and choice.correlation.loc[6] == pytest.approx(1.0)
    assert "grace_period=6" in caplog.text and "reduction_factor=" in caplog.text
    # Ranks never change after step 6, so the most aggressive reduction factor loses nothing.
    assert choice.reduction_factor == 4
    assert choice.candidates.loc[4, "regret"] == 0 and choice.candidates["cost"].is_monotonic_decreasing


def test_noisy_early_ranks_make_it_careful() -> None:
    calm = choose_asha(synthetic_curves(noise=0.001), metric="acc", mode="max")
    noisy = choose_asha(synthetic_curves(noise=0.03), metric="acc", mode="max")
    assert calm.grace_period == 1 and calm.reduction_factor == 4
    # Noise in early ranks costs either a later first rung or a gentler reduction.
    assert noisy.grace_period > calm.grace_period or noisy.reduction_factor < calm.reduction_factor
    # Within the tolerance if any candidate is, else the safest candidate.
    regret = noisy.candidates["regret"]
    assert regret.loc[noisy.reduction_factor] <= max(0.02, regret.min())


def test_ranks_that_never_settle_switch_early_stopping_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="meta_tune"):
        choice = choose_asha(crossing_curves(switch=STEPS), metric="acc", mode="max")
    assert choice.grace_period == STEPS
    assert "no early stopping" in caplog.text


def test_asha_from_history_returns_a_configured_scheduler() -> None:
    curves = crossing_curves(switch=4)
    asha = asha_from_history(curves, metric="acc", mode="max")
    choice = choose_asha(curves, metric="acc", mode="max")
    assert isinstance(asha, ASHAScheduler)
    assert asha._brackets[0]._rungs[-1][0] == choice.grace_period  # the first rung
    assert asha._reduction_factor == choice.reduction_factor and asha._max_t == STEPS
    assert isinstance(asha_from_history(curves, metric="acc", mode="max", kind="hyperband"), HyperBandScheduler)
    # mode="min" on the negated metric is the same choice.
    mirrored = choose_asha(curves.assign(acc=-curves["acc"]), metric="acc", mode="min")
    assert (mirrored.grace_period, mirrored.reduction_factor) == (choice.grace_period, choice.reduction_factor)


def test_bad_input_is_refused() -> None:
    curves = crossing_curves(switch=4)
    with pytest.raises(InvalidConfigError, match="kind must be 'asha' or 'hyperband', got 'pbt'"):
        asha_from_history(curves, metric="acc", mode="max", kind="pbt")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="at least 4 trials on each of at least 2 tasks"):
        choose_asha(curves[curves["task"] == "t0"], metric="acc", mode="max")
    with pytest.raises(InvalidConfigError, match="reduction_factors must be integers >= 2"):
        choose_asha(curves, metric="acc", mode="max", reduction_factors=[1])
