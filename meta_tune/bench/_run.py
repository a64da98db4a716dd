"""A whole benchmark: methods x meta-test tasks x seeds through the simulator, with regret."""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from meta_tune.bench._methods import MethodContext, get_methods, random_history
from meta_tune.bench._protocol import derive_seed, meta_split, metric_bounds
from meta_tune.bench._scenario import RUNTIME_KEY, Scenario
from meta_tune.bench._schedulers import random_curves, split_method
from meta_tune.bench._simulator import SimulationConfig, simulate
from meta_tune.bench._tune_driver import SIM_TIME_KEY, TaskObjective, run_tune
from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers import SchedulerArgs

if TYPE_CHECKING:
    from meta_tune.priors import Prior

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
        driver: ``"simulator"`` (in-process, simulated time) or ``"tune"`` (real
            ``tune.Tuner`` runs over the replay trainable; needs ``ray.init``).
        median_trial_s: With the Tune driver, real seconds a trial of the task's median
            runtime sleeps (sets each task's ``time_scale``).
        history: The meta-train history transfer methods learn from: ``"true"``, or an
            unrelated one to test robustness - ``"negated"`` (the metric's sign flipped, so it
            points at the worst region) or ``"shuffled"`` (each task's metric values permuted
            across its configs).
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
    driver: Literal["simulator", "tune"] = "simulator"
    median_trial_s: float = 2.0
    history: Literal["true", "negated", "shuffled"] = "true"

    def __post_init__(self) -> None:
        if self.history not in ("true", "negated", "shuffled"):
            raise InvalidConfigError(f"history must be 'true', 'negated' or 'shuffled', got {self.history!r}")
        if self.driver not in ("simulator", "tune"):
            raise InvalidConfigError(f"driver must be 'simulator' or 'tune', got {self.driver!r}")
        if not self.median_trial_s > 0:
            raise InvalidConfigError(f"median_trial_s must be > 0, got {self.median_trial_s}")
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


@dataclass(frozen=True)
class RunDone:
    """One finished run of a benchmark, as :func:`run_benchmark` reports it to ``on_run_done``.

    Attributes:
        method: The method name (``searcher`` or ``searcher@scheduler``).
        task: The task id.
        seed: The run index.
        done: Runs finished so far, this one included.
        total: Runs of the whole benchmark.
        trials: Trials the run finished.
        best: The run's best metric value (NaN if no trial reported one).
    """

    method: str
    task: str
    seed: int
    done: int
    total: int
    trials: int
    best: float


def run_benchmark(
    scenario: Scenario,
    config: BenchmarkConfig,
    progress: Callable[[int, int], None] | None = None,
    *,
    jobs: int = 1,
    on_phase: Callable[[str], None] | None = None,
    on_run_done: Callable[[RunDone], None] | None = None,
) -> pd.DataFrame:
    """Run every method on every meta-test task and seed; return the trajectories.

    Transfer methods learn a prior from ``history_trials`` random configs on each meta-train
    task (the same data for all of them); learning schedulers learn from the whole learning
    curves of as many random configs per meta-train task.

    Args:
        scenario: The YAHPO scenario.
        config: What to run.
        progress: Called with (runs done, runs in all) after each run.
        jobs: Processes that run the simulations (the result does not depend on it).
        on_phase: Called with a sentence before each step that takes a while (the
            meta-train history and prior, the learning curves, the runs).
        on_run_done: Called after each run with what it was and how it went.

    Returns:
        Long-format trajectories, one row per trial: ``method``, ``task``, ``seed``,
        ``trial``, ``end_time`` (simulated seconds), ``steps``, ``stopped``, the metric,
        ``suggest_s`` (wall-clock seconds the run took) and the config columns. With the
        Tune driver, the rows are :func:`~meta_tune.bench.run_tune`'s (no ``stopped``).
    """
    import meta_tune.priors

    if jobs < 1:
        raise InvalidConfigError(f"jobs must be >= 1, got {jobs}")
    if jobs > 1 and config.driver == "tune":
        raise InvalidConfigError(
            "The Tune driver runs one Tuner at a time (its trials run in parallel): use jobs=1."
        )
    metric = config.metric or scenario.default_metric
    mode = scenario.mode(metric)
    split = meta_split(scenario)
    tasks = list(config.tasks) if config.tasks else list(split.test)
    leaked = sorted(set(tasks) & set(split.train))
    if leaked:
        raise InvalidConfigError(
            f"Tasks {leaked} are meta-train tasks of {scenario.name}; benchmark on meta-test tasks."
        )
    runs = [split_method(name) for name in config.methods]
    prior, history = None, None
    if any(get_methods([searcher])[0].transfer for searcher, _ in runs):
        if on_phase is not None:
            on_phase(
                f"Fitting the transfer methods' prior on {config.history_trials} random configs x "
                f"{len(split.train)} meta-train tasks"
            )
        started = time.perf_counter()
        history = random_history(
            scenario, list(split.train), n_per_task=config.history_trials, seed=config.base_seed
        )
        # The surrogate's runtime is the history's runtime_s: the priors' cost model learns from it.
        history = history.drop(columns=[m for m in scenario.metrics if m != metric and m in history])
        history = history.rename(columns={RUNTIME_KEY: "runtime_s"})
        history = _unrelated(history, metric, config.history, seed=config.base_seed)
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
    schedulers = SchedulerArgs(max_t=max_t)
    if any(scheduler.learns for _, scheduler in runs):
        if on_phase is not None:
            on_phase(f"Learning the schedulers from the curves of {len(split.train)} meta-train tasks")
        curves = random_curves(
            scenario,
            list(split.train),
            n_per_task=config.history_trials,
            seed=config.base_seed,
            metric=metric,
        )
        schedulers = schedulers.learn(curves, metric=metric, mode=mode)
    runtimes = {t: 1.0 for t in tasks}
    if config.time_budget is not None or config.driver == "tune":
        runtimes = {t: b.median_runtime for t, b in metric_bounds(scenario, metric, tasks=tasks).items()}
    shared = _Shared(scenario, config, metric, mode, prior, history, schedulers, runtimes)
    units = [(task, seed, name) for task in tasks for seed in range(config.seeds) for name in config.methods]
    frames: dict[tuple[str, int, str], pd.DataFrame] = {}
    if on_phase is not None:
        on_phase(
            f"Running {len(units)} runs ({len(config.methods)} methods x {len(tasks)} tasks x "
            f"{config.seeds} seeds, {config.trials} trials each)"
        )

    def finished(unit: tuple[str, int, str], frame: pd.DataFrame) -> None:
        frames[unit] = frame
        if progress is not None:
            progress(len(frames), len(units))
        if on_run_done is not None:
            values = (
                pd.to_numeric(frame[metric], errors="coerce") if metric in frame else pd.Series(dtype=float)
            )
            best = values.max() if mode == "max" else values.min()
            task, seed, name = unit
            on_run_done(RunDone(name, task, seed, len(frames), len(units), len(frame), float(best)))

    if jobs == 1:
        for unit in units:
            finished(unit, _run_one(shared, *unit))
    else:
        # spawn, not fork: a forked onnxruntime session can hang in the child.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_set_shared, initargs=(shared,)) as pool:
            futures = {pool.submit(_run_shared, *unit): unit for unit in units}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return pd.concat([frames[unit] for unit in units], ignore_index=True)


def _unrelated(
    history: pd.DataFrame, metric: str, kind: Literal["true", "negated", "shuffled"], *, seed: int
) -> pd.DataFrame:
    """The history as is, or made unrelated to the tasks (see ``BenchmarkConfig.history``)."""
    if kind == "true":
        return history
    history = history.copy()
    if kind == "negated":
        history[metric] = -history[metric]
    else:
        rng = np.random.default_rng(seed)
        for rows in history.groupby("task").indices.values():
            history.loc[history.index[rows], metric] = rng.permutation(history[metric].to_numpy()[rows])
    logger.info("Transfer methods learn from a %s history.", kind)
    return history


@dataclass(frozen=True)
class _Shared:
    """What every run of one benchmark reads (sent once to each worker process)."""

    scenario: Scenario
    config: BenchmarkConfig
    metric: str
    mode: Literal["min", "max"]
    prior: Prior | None
    history: pd.DataFrame | None
    schedulers: SchedulerArgs
    runtimes: dict[str, float]


def _run_one(shared: _Shared, task: str, seed: int, name: str) -> pd.DataFrame:
    """One run of method ``name`` on ``task`` with run index ``seed``, by the config's driver."""
    config, scenario = shared.config, shared.scenario
    searcher_name, scheduler = split_method(name)
    (method,) = get_methods([searcher_name])
    setup = SimulationConfig(
        metric=shared.metric,
        mode=shared.mode,
        num_trials=config.trials,
        num_workers=config.workers,
        time_key=SIM_TIME_KEY,
        time_budget=None if config.time_budget is None else config.time_budget * shared.runtimes[task],
    )
    context = MethodContext(
        param_space=scenario.param_space(),
        flat_space=scenario.param_space(conditional=False),
        seed=derive_seed(config.base_seed, scenario.name, task, seed),
        num_trials=config.trials,
        prior=shared.prior,
        history=shared.history,
    )
    started = time.perf_counter()
    if config.driver == "tune":
        with tempfile.TemporaryDirectory(prefix="meta_tune_bench_") as storage:
            frame = run_tune(
                method.build(context),
                TaskObjective(scenario, task),
                method.space(context),
                setup,
                storage_path=storage,
                scheduler=scheduler.build(shared.schedulers),
                time_scale=config.median_trial_s / shared.runtimes[task],
            )
    else:
        frame = simulate(
            method.build(context),
            TaskObjective(scenario, task),
            method.space(context),
            setup,
            scheduler=scheduler.build(shared.schedulers),
        )
    frame.insert(0, "seed", seed)
    frame.insert(0, "task", task)
    frame.insert(0, "method", name)
    frame["suggest_s"] = time.perf_counter() - started
    return frame


_SHARED: _Shared | None = None


def _set_shared(shared: _Shared) -> None:
    global _SHARED  # noqa: PLW0603 - one benchmark per worker process, set by the pool initializer
    _SHARED = shared


def _run_shared(task: str, seed: int, name: str) -> pd.DataFrame:
    assert _SHARED is not None
    return _run_one(_SHARED, task, seed, name)
