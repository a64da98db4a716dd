"""Surrogate tasks as objectives, and the real-Tune driver that replays them.

:class:`TaskObjective` turns a YAHPO task into the per-step objective both drivers share:
one step per epoch (``lcbench``'s learning curves) or a single step, each with the
surrogate's metrics and the cumulative simulated seconds under ``SIM_TIME_KEY``.
:func:`run_tune` runs a real ``tune.Tuner`` over a replay trainable that reports those
steps with sleeps scaled down by ``time_scale``, so a searcher (and any Tune scheduler)
sees in Tune what it sees in :func:`meta_tune.bench.simulate`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from ray.tune import Callback

from meta_tune.bench._scenario import RUNTIME_KEY, Scenario
from meta_tune.bench._simulator import Objective, SimulationConfig
from meta_tune.space import SearchSpace

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.search import Searcher

logger = logging.getLogger(__name__)

#: The step key holding the cumulative simulated seconds of a trial.
SIM_TIME_KEY = "sim_time_s"


class TaskObjective:
    """One surrogate task as an :data:`~meta_tune.bench.Objective` (picklable, for Ray workers).

    Args:
        scenario: The YAHPO scenario.
        task: The task id.
    """

    def __init__(self, scenario: Scenario, task: str | int) -> None:
        self.scenario, self.task = scenario, str(task)

    def __call__(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        """The reported steps of one config: every epoch for lcbench, else one step."""
        if "epoch" in self.scenario.fidelity_params:
            curve = self.scenario.curve(self.task, [config])
            steps = []
            elapsed = 0.0
            for row in curve.drop(columns=["config", "epoch"]).to_dict("records"):
                # The surrogate's cumulative time may dip by a hair; simulated time never does.
                elapsed = max(elapsed, float(row[RUNTIME_KEY]))
                steps.append({**row, SIM_TIME_KEY: elapsed})
            return steps
        (result,) = self.scenario.evaluate(self.task, [config])
        return [{**result, SIM_TIME_KEY: float(result[RUNTIME_KEY])}]

    def __repr__(self) -> str:
        return f"TaskObjective({self.scenario.name}, task={self.task})"


def _replay(config: dict[str, Any], *, objective: Objective, time_scale: float) -> None:
    """A Tune function trainable that reports an objective's steps at scaled-down pace."""
    from ray import tune

    previous = 0.0
    for step in objective(dict(config)):
        now = float(step.get(SIM_TIME_KEY, previous))
        time.sleep(max(0.0, now - previous) * time_scale)
        previous = now
        tune.report(dict(step))


def run_tune(
    searcher: Searcher,
    objective: Objective,
    param_space: Mapping[str, Any],
    config: SimulationConfig,
    *,
    storage_path: str | Path,
    scheduler: TrialScheduler | None = None,
    time_scale: float = 1e-3,
) -> pd.DataFrame:
    """Run a real ``tune.Tuner`` over the replay trainable; rows as :func:`simulate` gives them.

    Args:
        searcher: A fresh Ray ``Searcher``.
        objective: The per-step objective (e.g. a :class:`TaskObjective`).
        param_space: The Tune ``param_space``.
        config: Metric, mode, number of trials and workers (``max_concurrent_trials``).
        storage_path: Tune's storage path for this run.
        scheduler: An optional Tune trial scheduler (ASHA, HyperBand, ...).
        time_scale: Real seconds slept per simulated second.

    Returns:
        One row per trial in the order Tune started them: ``trial``, ``trial_id``,
        ``steps``, ``error``, the final ``config.metric``, ``wall_time_s``, ``end_time``
        (when the trial ended, in wall-clock seconds since the run started divided by
        ``time_scale``: simulated seconds plus Tune's own overhead) and the config as
        ``config/<name>`` columns. With ``config.time_budget``, the run ends after
        ``time_budget * time_scale`` real seconds (``TuneConfig(time_budget_s=...)``).
        Needs a running Ray (``ray.init``).
    """
    from ray import tune

    recorder = _TrialOrder()
    tuner = tune.Tuner(
        tune.with_parameters(_replay, objective=objective, time_scale=time_scale),
        param_space=dict(param_space),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            metric=config.metric,
            mode=config.mode,
            num_samples=config.num_trials,
            max_concurrent_trials=config.num_workers,
            reuse_actors=True,
            time_budget_s=None if config.time_budget is None else config.time_budget * time_scale,
        ),
        run_config=tune.RunConfig(storage_path=str(storage_path), callbacks=[recorder], verbose=0),
    )
    results = tuner.fit()
    flatten = SearchSpace.from_tune(param_space).flatten
    by_id = {r.metrics.get("trial_id"): r for r in (results[i] for i in range(len(results))) if r.metrics}
    rows = []
    for index, (trial_id, trial_config) in enumerate(recorder.started):
        result = by_id.get(trial_id)
        metrics = (result.metrics if result is not None else None) or {}
        rows.append(
            {
                "trial": index,
                "trial_id": trial_id,
                "steps": metrics.get("training_iteration", 0),
                "error": None if result is None or result.error is None else repr(result.error),
                config.metric: float(metrics.get(config.metric, float("nan"))),
                "wall_time_s": metrics.get("time_total_s"),
                "end_time": recorder.ended.get(trial_id, float("nan")) / time_scale,
                **{f"config/{k}": v for k, v in flatten(trial_config).items()},
            }
        )
    return pd.DataFrame(rows)


class _TrialOrder(Callback):
    """A Tune callback recording the order in which trials start (with their configs) and end."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.ended: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if all(trial.trial_id != t for t, _ in self.started):
            self.started.append((trial.trial_id, dict(trial.config)))

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.ended[trial.trial_id] = time.perf_counter() - self._t0

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.ended[trial.trial_id] = time.perf_counter() - self._t0
