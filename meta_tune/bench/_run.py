"""A whole benchmark: methods x meta-test tasks x seeds through the simulator, with regret."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from meta_tune.bench._methods import MethodContext, get_methods, random_history
from meta_tune.bench._protocol import derive_seed, meta_split, metric_bounds
from meta_tune.bench._scenario import RUNTIME_KEY, Scenario
from meta_tune.bench._schedulers import SchedulerContext, fit_schedulers, random_curves, split_method
from meta_tune.bench._simulator import SimulationConfig, simulate
from meta_tune.bench._tune_driver import SIM_TIME_KEY, TaskObjective
from meta_tune.errors import InvalidConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkConfig:
    """One benchmark run.

    Attributes:
        methods: Method names (see ``meta_tune.bench.METHODS``), each optionally with a
            scheduler as ``searcher@scheduler`` (see ``meta_tune.bench.SCHEDULERS``).
        trials: Trials per run (the most a run starts when ``time_budget`` is set).
        seeds: Runs per (method, task).
        workers: Trials in flight at once.
        tasks: Meta-test tasks to run on (None: the scenario's whole meta-test split).
        history_trials: Random configs per meta-train task in the history transfer methods
            (and learning schedulers, as whole curves) learn from.
        metric: The metric (None: the scenario's default).
        base_seed: Seed everything else is derived from.
        prior_options: Options of ``meta_tune.priors.fit`` for the transfer methods.
        time_budget: Simulated time after which each run ends, in multiples of the task's
            median full-fidelity runtime of a random config (None: runs end after
            ``trials`` trials).
    """

    methods: tuple[str, ...] = ("random", "hyperopt", "portfolio+random", "prior")
    trials: int = 100
    seeds: int = 5
    workers: int = 1
    tasks: tuple[str, ...] | None = None
    history_trials: int = 100
    metric: str | None = None
    base_seed: int = 0
    prior_options: dict[str, Any] = field(default_factory=dict)
    time_budget: float | None = None

    def __post_init__(self) -> None:
        get_methods([split_method(name)[0] for name in self.methods])
        if min(self.trials, self.seeds, self.workers, self.history_trials) < 1:
            raise InvalidConfigError(
                f"trials, seeds, workers and history_trials must be >= 1, got {self.trials}, {self.seeds}, "
                f"{self.workers}, {self.history_trials}"
            )
        if self.time_budget is not None and not self.time_budget > 0:
            raise InvalidConfigError(
                f"time_budget is a multiple of the median runtime and must be > 0, got {self.time_budget}"
            )


def run_benchmark(
    scenario: Scenario, config: BenchmarkConfig, progress: Callable[[int, int], None] | None = None
) -> pd.DataFrame:
    """Run every method on every meta-test task and seed; return the trajectories.

    Transfer methods learn a prior from ``history_trials`` random configs on each meta-train
    task (the same data for all of them); learning schedulers learn from the whole learning
    curves of as many random configs per meta-train task.

    Args:
        scenario: The YAHPO scenario.
        config: What to run.
        progress: Called with (runs done, runs in all) after each run.

    Returns:
        Long-format trajectories, one row per trial: ``method``, ``task``, ``seed``,
        ``trial``, ``end_time`` (simulated seconds), ``steps``, ``stopped``, the metric,
        ``suggest_s`` (wall-clock seconds the run took) and the config columns.
    """
    import meta_tune.priors

    metric = config.metric or scenario.default_metric
    mode = scenario.mode(metric)
    split = meta_split(scenario)
    tasks = list(config.tasks) if config.tasks else list(split.test)
    leaked = sorted(set(tasks) & set(split.train))
    if leaked:
        raise InvalidConfigError(
            f"Tasks {leaked} are meta-train tasks of {scenario.name}; benchmark on meta-test tasks."
        )
    runs = []
    for name in config.methods:
        searcher_name, scheduler = split_method(name)
        runs.append((name, get_methods([searcher_name])[0], scheduler))
    prior, history = None, None
    if any(method.transfer for _, method, _ in runs):
        started = time.perf_counter()
        history = random_history(
            scenario, list(split.train), n_per_task=config.history_trials, seed=config.base_seed
        )
        history = history.drop(
            columns=[m for m in (*scenario.metrics, RUNTIME_KEY) if m != metric and m in history]
        )
        prior = meta_tune.priors.fit(
            history,
            space=scenario.param_space(),
            metric=metric,
            mode=mode,
            seed=config.base_seed,
            **config.prior_options,
        )
        logger.info(
            "Prior fitted on %d meta-train tasks in %.1f s.", len(split.train), time.perf_counter() - started
        )
    max_t = int(scenario.max_fidelity.get("epoch", 1))
    schedulers = SchedulerContext(max_t=max_t)
    if any(scheduler.learns for _, _, scheduler in runs):
        curves = random_curves(
            scenario,
            list(split.train),
            n_per_task=config.history_trials,
            seed=config.base_seed,
            metric=metric,
        )
        schedulers = fit_schedulers(curves, metric=metric, mode=mode, max_t=max_t)
    runtimes = {t: 1.0 for t in tasks}
    if config.time_budget is not None:
        runtimes = {t: b.median_runtime for t, b in metric_bounds(scenario, metric, tasks=tasks).items()}
    frames, total, done = [], len(runs) * len(tasks) * config.seeds, 0
    for task in tasks:
        objective = TaskObjective(scenario, task)
        setup = SimulationConfig(
            metric=metric,
            mode=mode,
            num_trials=config.trials,
            num_workers=config.workers,
            time_key=SIM_TIME_KEY,
            time_budget=None if config.time_budget is None else config.time_budget * runtimes[task],
        )
        for seed in range(config.seeds):
            run_seed = derive_seed(config.base_seed, scenario.name, task, seed)
            context = MethodContext(
                param_space=scenario.param_space(),
                flat_space=scenario.param_space(conditional=False),
                seed=run_seed,
                num_trials=config.trials,
                prior=prior,
                history=history,
            )
            for name, method, scheduler in runs:
                started = time.perf_counter()
                frame = simulate(
                    method.build(context),
                    objective,
                    method.space(context),
                    setup,
                    scheduler=scheduler.build(schedulers),
                )
                frame.insert(0, "seed", seed)
                frame.insert(0, "task", task)
                frame.insert(0, "method", name)
                frame["suggest_s"] = time.perf_counter() - started
                frames.append(frame)
                done += 1
                if progress is not None:
                    progress(done, total)
    return pd.concat(frames, ignore_index=True)
