"""One tuning run: an experiment's searcher, scheduler, prior and store, on Ray Tune."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from ray import tune
from ray.tune import Callback
from ray.tune.search import ConcurrencyLimiter

from meta_tune._imports import require
from meta_tune.errors import InvalidConfigError
from meta_tune.store import Store, StoreCallback
from meta_tune.trainables import TrainableSpec
from meta_tune.tuning._experiment import Experiment, parse_space
from meta_tune.tuning._searchers import fit_prior

if TYPE_CHECKING:
    from meta_tune.priors import Prior

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What a tuning run produced.

    Attributes:
        task: The store task its trials were recorded under.
        timeline: One row per finished trial in the order they finished: ``trial``,
            ``finished_s`` (seconds since the run started), ``epochs`` and the metric's
            last reported value, ``best`` (best so far) and ``status``.
        best_config: The config of the best trial.
        best: The best trial's last reported metric value.
        wall_s: Seconds the run took.
        resumed: Whether it continued an interrupted run (its timeline then comes from the
            trials' results, to the second).
    """

    task: str
    timeline: pd.DataFrame
    best_config: dict[str, Any]
    best: float
    wall_s: float
    resumed: bool = False


class _Timeline(Callback):
    """Records when each trial finished and with what metric value."""

    def __init__(self, metric: str, mode: str) -> None:
        self.metric, self.mode = metric, mode
        self.started = time.perf_counter()
        self.rows: list[dict[str, Any]] = []

    def _finish(self, trial: Any, status: str) -> None:
        result = trial.last_result or {}
        self.rows.append({
            "trial": trial.trial_id,
            "finished_s": time.perf_counter() - self.started,
            "epochs": int(result.get("training_iteration", 0)),
            self.metric: float(result.get(self.metric, math.nan)),
            "status": status,
        })

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._finish(trial, "TERMINATED")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._finish(trial, "ERROR")

    def frame(self) -> pd.DataFrame:
        return _with_best(pd.DataFrame(self.rows), self.metric, self.mode)


def _with_best(rows: pd.DataFrame, metric: str, mode: str) -> pd.DataFrame:
    """Timeline rows in their columns, with the best value so far."""
    frame = rows.reindex(columns=["trial", "finished_s", "epochs", metric, "status"])
    values = frame[metric].fillna(-math.inf if mode == "max" else math.inf)
    frame["best"] = values.cummax() if mode == "max" else values.cummin()
    return frame


def default_concurrency(address: str | None) -> int:
    """Trials at once when an experiment does not say: the local CPUs, or 4 on a cluster."""
    return 4 if address else max(1, os.cpu_count() or 1)


@contextmanager
def ray_runtime(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Connect to a Ray cluster (``address``) or start a quiet local one; shut it down after.

    An already initialized Ray runtime is used as is and left running.
    """
    import ray

    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address and address.startswith("ray://"):
        require("grpc", extra="cluster")  # Ray Client
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)
    try:
        yield
    finally:
        ray.shutdown()


def tune_task(
    spec: TrainableSpec,
    task: str,
    *,
    searcher: str,
    scheduler: str = "asha",
    samples: int,
    epochs: int | None = None,
    seed: int = 0,
    store: Store,
    store_task: str,
    family: str | None = None,
    history: pd.DataFrame | None = None,
    concurrency: int = 2,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    storage_path: Path,
    callbacks: Sequence[Callback] = (),
    constants: dict[str, Any] | None = None,
) -> RunOutcome:
    """Tune a built-in family's task and record every trial into ``store`` under ``store_task``.

    A shorthand for :func:`run_experiment` used by ``collect`` and ``compare``, which record
    runs under their own task names.

    Args:
        spec: The trainable family (``meta_tune.trainables.get(name)``).
        task: One of ``spec.tasks`` or a path to your data.
        searcher: A name of ``meta_tune.searchers.names()``.
        scheduler: A name of ``meta_tune.schedulers.names()``.
        samples: Trials to run.
        epochs: Epochs per trial (default: the family's).
        seed: Seeds the searcher and every trial's training.
        store: Where trials and learning curves are recorded.
        store_task: The store task to record under.
        family: The store family of ``store_task`` (None keeps it out of future priors).
        history: For searchers that need a prior: past trials of related tasks.
        concurrency: Trials run at once.
        cpus_per_trial: CPUs each trial reserves.
        gpus_per_trial: GPUs (fractions allowed) each trial reserves; trials train on CUDA then.
        storage_path: Tune's storage path (checkpoints and results).
        callbacks: More Tune callbacks (e.g. progress display).
        constants: More fixed config keys (``device``, ``data_dir``, ...).
    """
    experiment = Experiment.model_validate({
        "name": store_task.replace("/", "_"),
        "trainable": {"family": spec.name, "task": task, "epochs": epochs, "constants": constants or {}},
        "searcher": {"name": searcher},
        "scheduler": {"name": scheduler},
        "samples": samples,
        "concurrency": concurrency,
        "resources": {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
        "seed": seed,
        "storage_path": storage_path,
    })
    return run_experiment(
        experiment, store=store, store_task=store_task, family=family, history=history, callbacks=callbacks
    )


def run_experiment(
    experiment: Experiment,
    *,
    store: Store,
    store_task: str | None = None,
    family: str | None = None,
    history: pd.DataFrame | None = None,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> RunOutcome:
    """Run ``experiment`` on the Ray runtime that is initialized (see :func:`ray_runtime`).

    Every trial is recorded into ``store`` (exactly once, resumed or not). The prior of a
    searcher that needs one is loaded from ``experiment.prior.path`` or fitted on the
    history of ``experiment.prior.family`` (default: the trainable's) without the tuned task
    and the excluded ones; learning schedulers learn from the same tasks' curves.

    Args:
        experiment: What to run (:func:`~meta_tune.tuning.load_experiment`).
        store: Where trials and learning curves are recorded, and the history is read.
        store_task: Record under this task (default: ``<family>/<task>``).
        family: The store family of ``store_task`` (default: the trainable's family when
            ``store_task`` is not given, else None: kept out of future priors).
        history: Past trials of related tasks to fit the prior on (default: read from the store).
        callbacks: More Tune callbacks (e.g. progress display).
        resume: Continue the interrupted run in ``storage_path/name`` (searcher and scheduler
            state included) if there is one; start it otherwise.

    Returns:
        The run's timeline and best trial.

    Raises:
        InvalidConfigError: No history for a searcher that needs a prior, and the like;
            raised before any trial starts.
    """
    from meta_tune import schedulers, searchers

    target = experiment.trainable
    if store_task is None:
        store_task, family = target.store_task, target.family
    metric, mode = experiment.metric, experiment.mode
    assert metric is not None and mode is not None  # filled in by Experiment's validation
    trainable, space, tunable = _trainable(experiment)
    searcher_entry = searchers.get(experiment.searcher.name)
    prior = _prior(experiment, store, space, history) if searcher_entry.needs_prior else None
    search_alg = ConcurrencyLimiter(
        searcher_entry.build(
            searchers.SearcherArgs(seed=experiment.seed, num_samples=experiment.samples, prior=prior),
            experiment.searcher.options,
        ),
        max_concurrent=experiment.concurrency or default_concurrency(experiment.address),
    )
    scheduler_entry = schedulers.get(experiment.scheduler.name)
    scheduler_args = schedulers.SchedulerArgs(max_t=experiment.max_t or 1)
    if scheduler_entry.learns:
        curves = _related_curves(experiment, store)
        if curves is not None:
            scheduler_args = scheduler_args.learn(curves, metric=metric, mode=mode)
    scheduler = scheduler_entry.build(scheduler_args, experiment.scheduler.options)
    timeline = _Timeline(metric, mode)
    resources = {"cpu": experiment.resources.cpu, "gpu": experiment.resources.gpu}
    trainable = tune.with_resources(_by_value(trainable), resources)
    storage_path = experiment.storage_path.expanduser().resolve()

    def start() -> tune.Tuner:
        return tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric=metric,
                mode=mode,
                num_samples=experiment.samples,
                search_alg=search_alg,
                scheduler=scheduler,
                reuse_actors=True,
                time_budget_s=experiment.time_budget_s,
            ),
            run_config=tune.RunConfig(
                name=experiment.run_name,
                storage_path=str(storage_path),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=1),
                callbacks=[
                    # The task's space is its tunable space: runs that differ only in
                    # constants (seed, epochs, device) are runs of the same task.
                    StoreCallback(
                        store=store, task=store_task, metric=metric, mode=mode, family=family, space=tunable
                    ),
                    timeline,
                    *callbacks,
                ],
            ),
        )

    resumed = False
    if resume:
        from meta_tune.store import has_experiment_checkpoint, restore_or_start

        folder = storage_path / experiment.run_name
        resumed = has_experiment_checkpoint(folder)
        tuner = restore_or_start(folder, trainable, start=start, resume_errored=True)
    else:
        tuner = start()
    started = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - started
    best = results.get_best_result(metric, mode)
    return RunOutcome(
        task=store_task,
        timeline=_results_timeline(results, metric, mode) if resumed else timeline.frame(),
        best_config=dict(best.config or {}),
        best=float((best.metrics or {}).get(metric, math.nan)),
        wall_s=wall,
        resumed=resumed,
    )


def _by_value(function: Any) -> Any:
    """``function`` wrapped in a new function, so that Ray pickles it by value.

    ``tune.with_resources`` marks the function it gets; a module-level function travels by
    reference, and under Ray Client (``ray://``) the Tuner on the head imports it afresh,
    without the mark: its trials would get 1 CPU and no GPU.
    """

    def trial(config: dict[str, Any]) -> Any:
        return function(config)

    trial.__name__ = getattr(function, "__name__", "trial")
    return trial


def _trainable(experiment: Experiment) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The trainable, its ``param_space`` and the tunable part of it recorded in the store."""
    from meta_tune import trainables

    target = experiment.trainable
    if target.function is not None:
        assert target.space is not None  # a user trainable's space is required by Experiment
        space = parse_space(target.space)
        return experiment.function(), space, space
    spec = trainables.get(target.family)
    space = spec.param_space(target.task, seed=experiment.seed, epochs=experiment.max_t, **target.constants)
    return spec.trainable, space, spec.search_space()


def _related_tasks(experiment: Experiment, store: Store) -> tuple[str, list[str]]:
    """The prior's family and its store tasks, without the tuned task and the excluded ones."""
    family = experiment.prior.family or experiment.trainable.family
    if family == experiment.trainable.family and experiment.trainable.function is None:
        from meta_tune.tuning._shipped import load_shipped

        load_shipped(store, family)
    skip = {experiment.trainable.store_task, *experiment.prior.exclude}
    return family, [t.name for t in store.list_tasks(family) if t.name not in skip]


def _prior(
    experiment: Experiment, store: Store, space: dict[str, Any], history: pd.DataFrame | None
) -> Prior:
    if experiment.prior.path is not None:
        from meta_tune.priors import Prior

        return Prior.load(experiment.prior.path)
    family = experiment.prior.family or experiment.trainable.family
    if history is None:
        family, tasks = _related_tasks(experiment, store)
        history = store.history(tasks=tasks) if tasks else None
    if history is None or history.empty:
        raise InvalidConfigError(
            f"Searcher {experiment.searcher.name!r} learns from earlier runs on related tasks, but the store "
            f"{store.url} has none in family {family!r} besides the tuned task: run `meta-tune collect` (or "
            "tune a few related tasks) first, give a saved prior under prior.path, or pick 'random' or "
            "'hyperopt'."
        )
    assert experiment.metric is not None and experiment.mode is not None
    prior = fit_prior(history, space=space, metric=experiment.metric, mode=experiment.mode)
    logger.info("Fitted a prior on %d trials of %d tasks", len(history), history["task"].nunique())
    return prior


def _related_curves(experiment: Experiment, store: Store) -> pd.DataFrame | None:
    _, tasks = _related_tasks(experiment, store)
    frames = [store.curves(task) for task in tasks]
    frames = [f for f in frames if not f.empty]
    if not frames:
        logger.warning("No learning curves of related tasks in the store: %s learns nothing.",
                       experiment.scheduler.name)
        return None
    return pd.concat(frames, ignore_index=True)


def _results_timeline(results: Any, metric: str, mode: str) -> pd.DataFrame:
    """A resumed run's timeline from its trials' last results (finish times to the second)."""
    rows = []
    for result in results:
        last = result.metrics or {}
        rows.append({
            "trial": last.get("trial_id"),
            "finished_s": float(last.get("timestamp", math.nan)),
            "epochs": int(last.get("training_iteration", 0)),
            metric: float(last.get(metric, math.nan)),
            "status": "ERROR" if result.error else "TERMINATED",
        })
    frame = pd.DataFrame(rows, columns=["trial", "finished_s", "epochs", metric, "status"])
    frame = frame.sort_values("finished_s", kind="stable").reset_index(drop=True)
    frame["finished_s"] -= frame["finished_s"].min()
    return _with_best(frame, metric, mode)
