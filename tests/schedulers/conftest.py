"""Synthetic learning-curve families with a known answer, shared by the scheduler tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

STEPS = 20


def synthetic_curves(
    *, tasks: int = 6, trials: int = 40, steps: int = STEPS, seed: int = 0, noise: float = 0.003
) -> pd.DataFrame:
    """Accuracy curves that rise like a power law to a final value set by each trial's quality.

    Tasks differ by an offset; early steps already rank trials roughly as their final values.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)
    rows = []
    for task in range(tasks):
        offset = rng.uniform(-0.05, 0.05)
        for trial in range(trials):
            final = 0.5 + 0.4 * rng.random() + offset
            gap = rng.uniform(0.2, 0.35)
            curve = final - gap * (t ** -0.8 - steps ** -0.8) + noise * rng.standard_normal(steps)
            rows.extend(
                {"task": f"t{task}", "trial": trial, "training_iteration": int(s), "acc": float(v)}
                for s, v in zip(t, curve)
            )
    return pd.DataFrame(rows)


def curve_of(frame: pd.DataFrame, task: str, trial: int) -> np.ndarray:
    rows = frame[(frame["task"] == task) & (frame["trial"] == trial)].sort_values("training_iteration")
    return rows["acc"].to_numpy()


@pytest.fixture(scope="session")
def train_curves() -> pd.DataFrame:
    return synthetic_curves(seed=0)


@pytest.fixture(scope="session")
def test_curves() -> pd.DataFrame:
    return synthetic_curves(tasks=2, seed=1)
