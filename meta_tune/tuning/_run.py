"""One tuning run: an experiment's searcher, scheduler, prior and store, on Ray Tune."""

from __future__ import annotations

import contextlib
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
from meta_tune.errors import InvalidConfigError, MetaTuneError
from meta_tune.store import Store, StoreCallback
from meta_tune.trainables import TrainableSpec
from meta_tune.tuning._experiment import Experiment, check_address, parse_space, resolve_tasks
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
        front: With several objectives, the Pareto-optimal trials (no other finished trial is
            at least as good on every objective and better on one): ``trial``, a column per
            objective, then the config; best first on the first objective. None with one.
    """

    task: str
    timeline: pd.DataFrame
    best_config: dict[str, Any]
    best: float
    wall_s: float
    resumed: bool = False
    front: pd.DataFrame | None = None


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


#: Checkpoints Tune keeps per trial: the latest, which is what resuming a trial needs (Tune
#: deletes an older one only once a newer one is saved). Earlier epochs' are deleted.
CHECKPOINTS_KEPT = 1
#: With ``num_to_keep`` set, Tune snapshots the experiment state after every trial checkpoint
#: (a copy of a few small files) and warns each time two come within this many seconds: on
#: a run of short epochs, dozens of identical warnings. Keeping one checkpoint is meant, so
#: the warning is off unless the user set the variable.
_SNAPSHOT_WARNING = "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"

#: Seconds to wait for a Ray cluster's port to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 5.0


@contextmanager
def ray_runtime(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Connect to a Ray cluster (``address``) or start a quiet local one; shut it down after.

    An already initialized Ray runtime is used as is and left running. Before connecting,
    the cluster's port must answer within :data:`CONNECT_TIMEOUT_S` seconds (Ray itself
    retries for minutes).

    Raises:
        InvalidConfigError: ``address`` is not a Ray address, or no Ray cluster answers there.
    """
    import ray

    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address and address.startswith("ray://"):
        require("grpc", extra="cluster")  # Ray Client
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, **options)
        except ConnectionError as err:
            raise InvalidConfigError(f"--address {address}: cannot connect to Ray there: {err}") from err
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)
    try:
        yield
    finally:
        ray.shutdown()


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise unless a Ray cluster's port answers at ``address`` within ``timeout_s`` seconds.

    ``auto`` is the cluster this machine belongs to (``RAY_ADDRESS`` or the last one
    ``ray start`` began here).

    Raises:
        InvalidConfigError: ``address`` is malformed, ``auto`` finds no cluster, or nothing
            accepts a connection at its host and port.
    """
    import socket

    try:
        host_port = check_address(address)
    except ValueError as err:
        raise InvalidConfigError(f"--address: {err}.") from None
    if host_port is None:
        host_port = _local_cluster()
        if host_port is None:
            raise InvalidConfigError(
                "--address auto: no Ray cluster runs on this machine (start one with `ray start --head`, "
                "give its HOST:PORT, or leave --address out for a local Ray)."
            )
    host, port = host_port
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        timed_out = isinstance(err, TimeoutError)
        reason = f"no answer in {timeout_s:g} s" if timed_out else (err.strerror or str(err))
        raise InvalidConfigError(
            f"--address {address}: no Ray cluster answers at {host}:{port} ({reason}). "
            "Check the head's address and port (6379 for HOST:PORT, 10001 for ray://) and that it runs "
            "(`ray status` on the head)."
        ) from None


def _local_cluster() -> tuple[str, int] | None:
    """The host and port of the Ray cluster ``address="auto"`` finds, or None."""
    from ray._private import services

    try:
        found = services.canonicalize_bootstrap_address("auto")
    except Exception:  # a private API: when it fails, Ray's own connect reports the problem
        logger.debug("Could not look up the local Ray cluster", exc_info=True)
        return None
    if not found:
        return None
    host, _, port = found.rpartition(":")
    return host.strip("[]"), int(port)


def check_experiment(experiment: Experiment, store: Store) -> None:
    """The checks of ``experiment`` that need no Ray runtime, run before one starts.

    The storage path must be writable (unless a Ray Client cluster writes it), every
    ``prior.exclude`` name must be a task (resolved to store names in place), and on a local
    run (no ``address``) the machine must have the GPUs one trial reserves.

    Raises:
        InvalidConfigError: One of these does not hold.
    """
    from meta_tune.tuning._paths import check_writable_folder

    if not (experiment.address or "").startswith("ray://"):
        check_writable_folder(experiment.storage_path, "storage_path (--results-dir)")
    if experiment.prior.exclude:
        _related_tasks(experiment, store)
    gpus = experiment.resources.gpu
    if experiment.address is None and gpus > 0:
        import torch

        found = torch.cuda.device_count()
        if found < gpus:
            raise InvalidConfigError(
                f"resources.gpu (--gpus-per-trial) is {gpus:g}, but this machine has {found} GPU(s) that "
                "torch can use: lower it (0 trains on the CPU; fractions share a GPU) or give --address of a "
                "cluster with GPUs."
            )


def check_cluster_resources(experiment: Experiment) -> None:
    """Raise unless the running Ray cluster has the CPUs and GPUs one trial reserves.

    Called once Ray runs (on a cluster: after connecting), before any trial starts.

    Raises:
        InvalidConfigError: A trial would wait forever for resources the cluster lacks.
    """
    import ray

    if not ray.is_initialized():  # Tune starts a local Ray with this machine's CPUs and GPUs
        return
    have = ray.cluster_resources()
    for key, flag, need in (
        ("CPU", "--cpus-per-trial", experiment.resources.cpu),
        ("GPU", "--gpus-per-trial", experiment.resources.gpu),
    ):
        if need > 0 and have.get(key, 0.0) < need:
            where = f"the Ray cluster at {experiment.address}" if experiment.address else "the local Ray"
            raise InvalidConfigError(
                f"resources.{key.lower()} ({flag}) is {need:g}, but {where} has {have.get(key, 0.0):g} "
                f"{key}(s): no trial could ever start. Lower {flag}, or add nodes that have them."
            )


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
        store_task, family = target.store_task, target.store_family
    check_experiment(experiment, store)
    metrics, modes = experiment.metrics, experiment.modes
    assert metrics and len(modes) == len(metrics)  # filled in and checked by Experiment's validation
    metric, mode = metrics[0], modes[0]  # Tune's bookkeeping (and a scheduler's) reads one
    several = len(metrics) > 1
    trainable, space, tunable = _trainable(experiment)
    searcher_entry = searchers.get(experiment.searcher.name)
    searcher_entry.check_objectives(len(metrics))
    prior, past = None, None
    if searcher_entry.needs_prior:
        if several and experiment.prior.path is None:
            past = _objectives_history(experiment, store, space, history)
        else:
            prior = _prior(experiment, store, space, history)
    search_alg = ConcurrencyLimiter(
        searcher_entry.build(
            searchers.SearcherArgs(
                metric=metrics if several else None,
                mode=modes if several else None,
                seed=experiment.seed,
                num_samples=experiment.samples,
                prior=prior,
                history=past,
            ),
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

    os.environ.setdefault(_SNAPSHOT_WARNING, "0")

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
                checkpoint_config=tune.CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT),
                callbacks=[
                    # The task's space is its tunable space: runs that differ only in
                    # constants (seed, epochs, device) are runs of the same task.
                    StoreCallback(
                        store=store, task=store_task, metric=metrics, mode=modes, family=family, space=tunable
                    ),
                    timeline,
                    *callbacks,
                ],
            ),
        )

    check_cluster_resources(experiment)
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
        front=pareto_front(results, metrics, modes, params=list(tunable)) if several else None,
    )


def pareto_front(
    results: Any, metrics: Sequence[str], modes: Sequence[str], *, params: Sequence[str] | None = None
) -> pd.DataFrame:
    """The Pareto-optimal finished trials of a ``ResultGrid`` (see :attr:`RunOutcome.front`).

    A trial that errored or lacks an objective (or reported NaN or infinity) is left out.
    ``params``: the config keys to keep (None: all, the run's constants included).
    """
    import numpy as np

    from meta_tune.priors import pareto_mask

    rows = []
    for result in results:
        last = result.metrics or {}
        values = [last.get(m) for m in metrics]
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        if result.error or len(numbers) < len(metrics) or not all(map(math.isfinite, numbers)):
            continue
        rows.append({
            "trial": last.get("trial_id"),
            **dict(zip(metrics, numbers)),
            **{k: v for k, v in (result.config or {}).items() if params is None or k in params},
        })
    frame = pd.DataFrame(rows, columns=["trial", *metrics] if not rows else None)
    if frame.empty:
        return frame
    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    mask = pareto_mask(frame[list(metrics)].to_numpy(dtype=float) * signs)
    front = frame[mask]
    return front.sort_values(metrics[0], ascending=modes[0] == "min", kind="stable").reset_index(drop=True)


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
    """The prior's family and its store tasks, without the tuned task and the excluded ones.

    The tuned task is left out at every length (``image/t`` and ``image@e2/t``).

    Raises:
        InvalidConfigError: A ``prior.exclude`` name is no task of the family.
    """
    target = experiment.trainable
    family = experiment.prior.family or target.family
    builtin = target.function is None
    if family == target.family and builtin:
        from meta_tune.tuning._shipped import load_shipped

        load_shipped(store, family)
    tasks = [t.name for t in store.list_tasks(family)]
    exclude = task_names(store, family, experiment.prior.exclude, what="prior.exclude")
    skip = {target.store_task, f"{target.family}/{target.task}", *exclude}
    return family, [t for t in tasks if t not in skip]


def task_names(store: Store, family: str, names: Sequence[str], *, what: str) -> list[str]:
    """The store names of tasks of ``family`` that the user named (``--exclude``, ``prior.exclude``).

    Names follow ``meta-tune run --task``: ``fashion_mnist_n2000`` is the family's task
    ``<family>/fashion_mnist_n2000``; a whole store name (``image/fashion_mnist_n2000``) is
    itself. Known are the family's tasks in ``store`` and, for a built-in family (or its
    ``@e<epochs>`` variant), its tasks that have no runs yet.

    Raises:
        InvalidConfigError: A name is no such task; the message lists the known ones, close
            matches first.
    """
    from meta_tune import trainables

    known = [t.name for t in store.list_tasks(family)]
    base = family.partition("@")[0]
    if base in trainables.names():
        with contextlib.suppress(MetaTuneError):  # its extra is not installed: the store's tasks only
            known += [f"{family}/{task}" for task in trainables.get(base).tasks]
    return resolve_tasks(names, family=family, known=known, what=what)


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
    from meta_tune.tuning._searchers import shipped_family_prior

    shipped = shipped_family_prior(
        family, space, history=history, metric=experiment.metric, mode=experiment.mode, store_url=store.url
    )
    if shipped is not None:  # a family with shipped priors learns from them and its earlier runs
        return shipped
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


def _objectives_history(
    experiment: Experiment, store: Store, space: dict[str, Any], history: pd.DataFrame | None
) -> pd.DataFrame:
    """The related tasks' trials with every objective, for a multi-objective searcher to fit on.

    Called for a searcher that needs a prior when the run has several objectives (and no
    ``prior.path``): ``ParetoSearcher(history=...)`` learns its Pareto portfolio from these
    trials (a column per objective; ``time_total_s`` is the store's ``runtime_s``). Trials
    that lack an objective are left out, and so are the columns that are neither parameters
    of ``space``, objectives, meta-features nor the store's bookkeeping (as ``fit_prior`` does).

    Raises:
        InvalidConfigError: No related task, or none of their trials reports every objective.
    """
    from meta_tune.store._objectives import with_objectives

    metrics = experiment.metrics
    family = experiment.prior.family or experiment.trainable.family
    if history is None:
        family, tasks = _related_tasks(experiment, store)
        history = store.history(tasks=tasks) if tasks else None
    if history is None or history.empty:
        raise InvalidConfigError(
            f"Searcher {experiment.searcher.name!r} learns a Pareto portfolio from earlier runs on "
            f"related tasks, but the store {store.url} has none in family {family!r} besides the tuned "
            f"task: tune a few related tasks with searcher 'random' and the same metrics "
            f"({', '.join(metrics)}) first, give a saved prior under prior.path, or pick 'random'."
        )
    complete = with_objectives(history, metrics).dropna(subset=list(metrics))
    if complete.empty:
        missing = [m for m in metrics if with_objectives(history, [m])[m].isna().all()]
        raise InvalidConfigError(
            f"Searcher {experiment.searcher.name!r} learns a Pareto portfolio from earlier runs, but no "
            f"trial of family {family!r} in {store.url} reports every objective ({', '.join(metrics)}; "
            f"none has {', '.join(missing) or 'all at once'}): check the metric names (`meta-tune store "
            "show TASK` lists what trials report), or tune related tasks with searcher 'random' and these "
            "metrics first."
        )
    from meta_tune.priors._history import RESERVED_COLUMNS
    from meta_tune.space import SearchSpace

    keep = {*RESERVED_COLUMNS, *metrics, *SearchSpace.from_tune(space).flat_keys(constants=False)}
    complete = complete[[c for c in complete.columns if c in keep or c.startswith("meta:")]]
    complete.attrs = {**history.attrs, "metrics": list(metrics)}
    dropped = len(history) - len(complete)
    if dropped:
        logger.info("Left out %d trial(s) of the history that lack an objective of %s", dropped, metrics)
    logger.info(
        "Learning a Pareto portfolio from %d trials of %d tasks", len(complete), complete["task"].nunique()
    )
    return complete


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
