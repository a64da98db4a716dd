"""bench's regret plot: log axes, titled panels, one legend that names every line and the bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meta_tune.bench import MetricBounds
from meta_tune.bench._report import BAND_LABEL, plot_regret


def _trajectories() -> tuple[pd.DataFrame, dict[str, MetricBounds]]:
    rng = np.random.default_rng(0)
    rows = []
    for method in ("random", "prior", "hyperopt@asha"):
        for task in ("t1", "t2"):
            for seed in range(3):
                for trial in range(20):
                    acc = rng.uniform(0.5, 0.9) + (0.05 if method == "prior" else 0.0)
                    rows.append({"method": method, "task": task, "seed": seed, "trial": trial,
                                 "end_time": float(trial + 1), "acc": acc})  # fmt: skip
    bounds = {
        task: MetricBounds(
            "synthetic",
            task,
            "acc",
            "max",
            best=1.0,
            worst=0.4,
            saturated_fraction=0.0,
            median_runtime=1.0,
            n_samples=100,
            seed=0,
        )
        for task in ("t1", "t2")
    }
    return pd.DataFrame(rows), bounds


def test_regret_plot_names_every_mark_and_uses_log_axes(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    trajectories, bounds = _trajectories()
    fig = plot_regret(trajectories, bounds, tmp_path / "regret.png", max_trials=20, title="synthetic")
    assert (tmp_path / "regret.png").read_bytes()[:4] == b"\x89PNG"
    assert fig.get_suptitle() == "synthetic"
    ax_trials, ax_time = fig.axes
    assert [ax_trials.get_title(), ax_time.get_title()] == ["regret vs trials", "regret vs simulated time"]
    for ax in (ax_trials, ax_time):
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
        assert "log" in ax.get_xlabel() and "regret" in ax.get_ylabel()
        # One line and one band per method.
        assert sorted(line.get_label() for line in ax.get_lines()) == ["hyperopt@asha", "prior", "random"]
        assert len(ax.collections) == 3
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["hyperopt@asha", "prior", "random", BAND_LABEL]
    assert "95%" in BAND_LABEL


def test_regret_plot_without_a_path_only_returns_the_figure(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    trajectories, bounds = _trajectories()
    fig = plot_regret(trajectories, bounds, None, max_trials=20, title="t", max_time=10.0)
    assert not list(tmp_path.iterdir())
    assert fig.axes[1].get_xlim()[1] <= 10.0 * 1.5
