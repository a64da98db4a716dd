"""Benchmarks on YAHPO Gym surrogates: scenarios, a meta-train/meta-test protocol, regret.

Loads the YAHPO Gym surrogate models (ONNX, evaluated with onnxruntime from the ``bench``
extra) of four scenarios: ``rbv2_xgboost``, ``rbv2_rpart``, ``lcbench`` and
``iaml_glmnet``. The data files come from the public ``yahpo_data`` repository (v1.0.2);
point ``data_dir=`` or the environment variable ``MT_YAHPO_DIR`` at it, or put it in
``../shared/data/yahpo`` beside the repository (see :func:`find_yahpo_dir`).

Example:
    >>> from meta_tune.bench import load_scenario, meta_split, metric_bounds
    >>> scenario = load_scenario("rbv2_xgboost")  # doctest: +SKIP
    >>> split = meta_split(scenario)  # doctest: +SKIP
    >>> bounds = metric_bounds(scenario, "acc", tasks=split.test)  # doctest: +SKIP
    >>> result = scenario.evaluate(split.test[0], [config])[0]  # doctest: +SKIP
    >>> bounds[split.test[0]].regret(result["acc"])  # doctest: +SKIP
"""

from __future__ import annotations

from meta_tune._io import CACHE_ENV
from meta_tune.bench._data_dir import DATA_ENV, default_yahpo_locations, find_yahpo_dir
from meta_tune.bench._methods import random_history
from meta_tune.bench._protocol import (
    TIME_BUDGETS,
    TRIAL_BUDGETS,
    MetaSplit,
    MetricBounds,
    derive_seed,
    meta_split,
    metric_bounds,
    regret_table,
    saturated_tasks,
    summarize_regret,
)
from meta_tune.bench._scenario import RUNTIME_KEY, Scenario, load_scenario
from meta_tune.bench._schedulers import random_curves
from meta_tune.bench._simulator import Objective, SimulationConfig, simulate
from meta_tune.bench._tune_driver import SIM_TIME_KEY, TaskObjective, run_tune

__all__ = [
    # scenarios
    "DATA_ENV",
    "RUNTIME_KEY",
    "default_yahpo_locations",
    "find_yahpo_dir",
    "Scenario",
    "load_scenario",
    # protocol
    "CACHE_ENV",
    "TIME_BUDGETS",
    "TRIAL_BUDGETS",
    "MetaSplit",
    "MetricBounds",
    "derive_seed",
    "meta_split",
    "metric_bounds",
    "saturated_tasks",
    "regret_table",
    "summarize_regret",
    # simulated tuning runs
    "Objective",
    "SimulationConfig",
    "simulate",
    "SIM_TIME_KEY",
    "TaskObjective",
    "run_tune",
    # meta-train histories
    "random_history",
    # schedulers in benchmarks
    "random_curves",
]
