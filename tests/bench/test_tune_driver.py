"""The simulator and a real Tune run agree: same searcher, same seed -> same trials and regret."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray.tune.search.hyperopt import HyperOptSearch

from meta_tune.bench import (
    SIM_TIME_KEY,
    SimulationConfig,
    TaskObjective,
    load_scenario,
    metric_bounds,
    run_tune,
    simulate,
)


def test_lcbench_objective_reports_the_learning_curve_with_monotone_time(yahpo_dir: Path) -> None:
    scenario = load_scenario("lcbench", yahpo_dir)
    config = {
        "batch_size": 64,
        "learning_rate": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "num_layers": 2,
        "max_units": 256,
        "max_dropout": 0.1,
    }
    steps = TaskObjective(scenario, "167168")(config)
    assert len(steps) == 52
    assert steps[-1]["val_accuracy"] == pytest.approx(75.515, rel=1e-3)
    times = [s[SIM_TIME_KEY] for s in steps]
    assert all(b >= a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(111.48, rel=1e-3)


@pytest.mark.integration
@pytest.mark.parametrize(("scenario_name", "task"), [("lcbench", "167168"), ("rbv2_rpart", "11")])
def test_simulator_and_tune_agree(
    ray_session: None,
    yahpo_dir: Path,
    tmp_path: Path,
    scenario_name: str,
    task: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    scenario = load_scenario(scenario_name, yahpo_dir)
    metric = scenario.default_metric
    space = scenario.param_space(conditional=False)
    objective = TaskObjective(scenario, task)
    setup = SimulationConfig(metric=metric, mode=scenario.mode(metric), num_trials=8, time_key=SIM_TIME_KEY)

    def searcher() -> HyperOptSearch:
        return HyperOptSearch(random_state_seed=7, n_initial_points=4)

    simulated = simulate(searcher(), objective, space, setup).sort_values("trial").reset_index(drop=True)
    tuned = run_tune(searcher(), objective, space, setup, storage_path=tmp_path / "tune", time_scale=1e-4)
    config_columns = sorted(c for c in simulated.columns if c.startswith("config/"))
    assert len(tuned) == 8 and tuned["error"].isna().all()
    pd.testing.assert_frame_equal(simulated[config_columns], tuned[config_columns], check_dtype=False)
    np.testing.assert_allclose(simulated[metric], tuned[metric], rtol=1e-6)
    assert (tuned["steps"] == (52 if scenario_name == "lcbench" else 1)).all()
    bounds = metric_bounds(scenario, metric, tasks=[task], n_samples=500)[task]
    assert bounds.regret(simulated[metric].to_numpy()).min() == pytest.approx(
        bounds.regret(tuned[metric].to_numpy()).min()
    )


@pytest.mark.integration
@pytest.mark.parametrize("scheduler_name", ["asha", "meta_stopping"])
def test_simulator_and_tune_stop_the_same_trials(
    ray_session: None, yahpo_dir: Path, tmp_path: Path, scheduler_name: str
) -> None:
    from ray.tune.schedulers import ASHAScheduler

    from meta_tune.bench._schedulers import random_curves
    from meta_tune.schedulers import CurvePredictor, MetaStoppingScheduler

    scenario = load_scenario("lcbench", yahpo_dir)
    metric = scenario.default_metric
    space = scenario.param_space(conditional=False)
    objective = TaskObjective(scenario, "7593")
    setup = SimulationConfig(metric=metric, mode="max", num_trials=10, time_key=SIM_TIME_KEY)
    curves = random_curves(scenario, ["3945", "167168"], n_per_task=40, seed=0, metric=metric)
    predictor = CurvePredictor.fit(curves, metric=metric, mode="max")

    def scheduler() -> Any:
        if scheduler_name == "asha":
            return ASHAScheduler(max_t=52, grace_period=2, reduction_factor=3)
        return MetaStoppingScheduler(predictor, top_k=1, threshold=0.2)

    def searcher() -> HyperOptSearch:
        return HyperOptSearch(random_state_seed=3, n_initial_points=4)

    simulated = simulate(searcher(), objective, space, setup, scheduler=scheduler())
    simulated = simulated.sort_values("trial").reset_index(drop=True)
    tuned = run_tune(searcher(), objective, space, setup, storage_path=tmp_path / "tune", scheduler=scheduler(),
                     time_scale=1e-4)
    assert simulated["stopped"].sum() >= 3
    assert tuned["steps"].tolist() == simulated["steps"].tolist()
    config_columns = sorted(c for c in simulated.columns if c.startswith("config/"))
    pd.testing.assert_frame_equal(simulated[config_columns], tuned[config_columns], check_dtype=False)
    np.testing.assert_allclose(simulated[metric], tuned[metric], rtol=1e-6)
