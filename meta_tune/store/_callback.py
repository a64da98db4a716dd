"""StoreCallback: one line that records every trial of any Tuner into the experiment store."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.tune import Callback
from sqlalchemy.exc import SQLAlchemyError

from meta_tune.errors import InvalidConfigError, StoreError, UnsupportedDomainError
from meta_tune.space import SearchSpace
from meta_tune.store._frames import clean_metrics
from meta_tune.store._store import Store
from meta_tune.store._url import default_store_url, mask_url, normalize_url, scrub

logger = logging.getLogger(__name__)

#: Tune statuses of a trial that has ended.
FINISHED = ("TERMINATED", "ERROR")


class StoreCallback(Callback):
    """A ``ray.tune.Callback`` that records every result and every finished trial, live.

    Each reported result becomes a step of the trial's learning curve; a completed trial
    gets its final metrics and status TERMINATED; an errored one its error text and
    status ERROR. Writes happen on the driver, one transaction each, so a crash loses at
    most the result being written. A store that cannot be written is logged as an error,
    never allowed to stop the tuning run.

    Every trial is recorded once, also when the driver dies and the run is resumed with
    ``Tuner.restore(path, trainable, resume_unfinished=True)``: the callback keeps a run id
    in Tune's experiment checkpoint, and a resumed run first drops the rows of trials that
    Tune no longer knows (those it started after its last experiment checkpoint; it runs
    them again under new trial ids) and marks rows of trials it runs again as RUNNING. When
    the run ends, the store holds what the run's ``ResultGrid`` holds; trials still
    unfinished then (an interrupted run) are marked INTERRUPTED until a resume finishes them.

    The task records the metric, the mode and the search space of the Tune run it watches,
    so that ``meta-tune learn --family ...`` needs no flags: when the run starts, whatever
    was not passed here is read from the run itself, i.e. ``TuneConfig(metric=, mode=)``
    (else the searcher's or the scheduler's metric and mode) and the Tuner's
    ``param_space`` (else the space of a meta-tune searcher that was given one). A search
    algorithm that converted its space to its own format (``HyperOptSearch(space=...)``,
    ...) keeps no Tune domains: pass ``space=`` then. A task recorded earlier with another
    metric, mode or space keeps them (a warning names the difference); values passed here
    must agree with the task's.

    A run tuned for several objectives (a multi-objective searcher given ``metric=[...]``,
    ``mode=[...]``) passes them all here the same way: the task's metric and mode are the
    first objective's, and :meth:`Store.objectives` returns every one, which ``meta-tune
    report`` draws a Pareto front of. Not passed, they are read from a search algorithm that
    lists several (``ParetoSearcher(metric=[...], mode=[...])``) when its first is the run's.
    Every metric a trial reports is recorded whatever was tuned (Tune's ``time_total_s`` is
    the trial's ``runtime_s``).

    Args:
        store: A :class:`Store`, a store URL, or None for ``$MT_STORE`` / the default.
        task: The task name the trials are recorded under (created if needed).
        metric: The metric tuned (default: the Tune run's), or the objectives' metrics.
        mode: ``"min"`` or ``"max"`` (default: the Tune run's), or one per metric.
        family: The family of related tasks, which priors learn across.
        space: The search space as a Tune ``param_space`` (default: the Tune run's).
        meta_features: Numeric descriptors of the task (dataset size, ...).

    Example:
        >>> tune.Tuner(train, param_space=space,
        ...            tune_config=tune.TuneConfig(metric="acc", mode="max"),
        ...            run_config=tune.RunConfig(callbacks=[StoreCallback(task="mlp/digits", family="mlp")]))
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        task: str,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] | None = None,
        family: str | None = None,
        space: Mapping[str, Any] | None = None,
        meta_features: Mapping[str, Any] | None = None,
    ) -> None:
        self._store = store if isinstance(store, Store) else None
        self._url = store._url if isinstance(store, Store) else normalize_url(store or default_store_url())
        metrics = [metric] if isinstance(metric, str) else list(metric or [])
        modes = [mode] if isinstance(mode, str) else list(mode or [])
        if len(metrics) > 1 and len(modes) != len(metrics):
            raise InvalidConfigError(
                f"StoreCallback: metric={metrics} lists several objectives: give one mode per metric, got "
                f"mode={modes}."
            )
        #: Every objective ``(metric, mode)`` when the run tunes several, else empty.
        self.objectives = list(zip(metrics, modes)) if len(metrics) > 1 else []
        self.task, self.family = task, family
        self.metric, self.mode = next(iter(metrics), None), next(iter(modes), None)
        self.space = dict(space) if space is not None else None
        self.meta_features = dict(meta_features or {})
        #: Names this run's rows in the store; kept in Tune's experiment checkpoint.
        self.run_id: str | None = None
        self._restored = False
        self._reconciled = True
        # Bad settings fail here, before any trial runs.
        self.store.create_task(
            task,
            metric=self.metric,
            mode=self.mode,
            family=family,
            space=self.space,
            meta_features=self.meta_features,
            exist_ok=True,
        )
        if self.objectives:
            self.store.set_objectives(task, self.objectives)

    @property
    def url(self) -> str:
        """The store's URL, password masked."""
        return mask_url(self._url)

    @property
    def store(self) -> Store:
        """The store, opened on first use (also after the callback was pickled)."""
        if self._store is None:
            self._store = Store(self._url)
        return self._store

    def __repr__(self) -> str:
        return f"StoreCallback({self.url!r}, task={self.task!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_store"} | {"_store": None}

    # ------------------------------------------------------------------ Tune's checkpoint
    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        """Start a new run, or (after :meth:`set_state`) go on with the restored one."""
        if not self._restored or self.run_id is None:
            self.run_id = uuid.uuid4().hex
            self._reconciled = True
        else:
            self._reconciled = False  # at the first event, once Tune's restored trials are known
        self._restored = False
        self._record_settings(_tune_run_settings())

    def _record_settings(self, run: RunSettings) -> None:
        """Record on the task the metric, mode and space of the run that were not passed in."""
        metric, mode = self.metric or run.metric, self.mode or run.mode
        if not self.objectives and run.objectives and run.objectives[0] == (metric, mode):
            self._record_objectives(list(run.objectives))
        space: SearchSpace | None = None
        if self.space is None:
            space = run.space
            if space is None and run.in_tune:
                logger.info(
                    "StoreCallback: the Tune run of task %r has no search space of Tune domains to record%s; "
                    "pass StoreCallback(space=param_space) to record one.",
                    self.task,
                    f" ({run.space_problem})" if run.space_problem else "",
                )
        if (metric, mode, space) == (self.metric, self.mode, None):
            return
        found: dict[str, Any] = {"metric": metric, "mode": mode, "space": space}
        try:
            info = self.store.get_task(self.task)
            stored = {"metric": info.metric, "mode": info.mode, "space": info.space_fingerprint}
            for key, value in {"metric": metric, "mode": mode, "space": space and space.fingerprint}.items():
                if value is not None and stored[key] is not None and value != stored[key]:
                    logger.warning(
                        "StoreCallback: task %r was recorded with %s %r, this Tune run has %r; the task "
                        "keeps %r (record runs with another %s under another task name).",
                        self.task,
                        key,
                        stored[key],
                        value,
                        stored[key],
                        key,
                    )
                    found[key] = None
            self.store.create_task(
                self.task,
                metric=found["metric"],
                mode=found["mode"],
                family=self.family,
                space=found["space"],
                exist_ok=True,
            )
        except (StoreError, SQLAlchemyError, OSError) as err:
            logger.error(
                "Could not record the metric, mode and space of task %r in %s: %s",
                self.task,
                self.url,
                scrub(str(err), self._url),
            )

    def _record_objectives(self, objectives: list[tuple[str, str]]) -> None:
        """Record the objectives of a multi-objective searcher's run on the task (logged on failure)."""
        try:
            self.store.create_task(self.task, metric=objectives[0][0], mode=objectives[0][1], exist_ok=True)
            self.store.set_objectives(self.task, objectives)
        except (StoreError, SQLAlchemyError, OSError, InvalidConfigError) as err:
            logger.error(
                "Could not record the objectives %s of task %r in %s: %s",
                objectives,
                self.task,
                self.url,
                scrub(str(err), self._url),
            )

    def get_state(self) -> dict[str, Any] | None:
        """The run id, saved with Tune's experiment checkpoint."""
        return {"run_id": self.run_id, "task": self.task}

    def set_state(self, state: dict[str, Any]) -> None:
        """Take the run id back from Tune's experiment checkpoint (``Tuner.restore``)."""
        if state.get("run_id"):
            self.run_id = str(state["run_id"])
            self._restored = True

    def _run(self) -> str:
        if self.run_id is None:  # used without Tune calling setup (e.g. called by hand)
            self.run_id = uuid.uuid4().hex
        return self.run_id

    # ------------------------------------------------------------------ events
    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        """After a restore: bring the store in line with the trials Tune restored."""
        self._reconcile(trials)

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Nothing to record yet (a trial is recorded from its first result)."""
        self._reconcile(trials)

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        """Record one step of the trial's learning curve."""
        self._reconcile(trials)
        self._write(
            "record_result",
            self.task,
            trial.trial_id,
            training_iteration=int(result.get("training_iteration", 0)),
            time_total_s=result.get("time_total_s"),
            metrics=clean_metrics(result),
            config=dict(trial.config),
            run_id=self._run(),
        )

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Record the finished trial with its final metrics."""
        self._reconcile(trials)
        self._finish(trial, "TERMINATED", None)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Record the errored trial with its error text."""
        self._reconcile(trials)
        self._finish(trial, "ERROR", error_text(trial))

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        """Leave the store as the run ends: finished trials as Tune has them, others INTERRUPTED."""
        self._reconcile(trials)
        self._settle(trials, unfinished="INTERRUPTED")

    def _finish(self, trial: Any, status: str, error: str | None) -> None:
        last = trial.last_result or {}
        self._write(
            "record_trial",
            self.task,
            trial.trial_id,
            config=dict(trial.config),
            status=status,
            metrics=clean_metrics(last) if last else None,
            error=error,
            runtime_s=last.get("time_total_s"),
            last_iteration=last.get("training_iteration"),
            run_id=self._run(),
        )

    def _reconcile(self, trials: list[Any]) -> None:
        """Once per resumed run: drop rows Tune forgot, mark rows of trials it runs again."""
        if self._reconciled:
            return
        self._reconciled = True
        self._settle(trials, unfinished="RUNNING")

    def _settle(self, trials: list[Any], *, unfinished: str) -> None:
        """Make this run's rows agree with Tune's ``trials`` (unfinished ones get ``unfinished``)."""
        try:
            recorded = self.store._run_trials(self.task, self._run())
            live = {t.trial_id: t for t in trials}
            forgotten = [trial_id for trial_id in recorded if trial_id not in live]
            if forgotten:
                self.store._drop_trials(self.task, forgotten)
                logger.info(
                    "Run %s of task %r resumed: dropped %d trial(s) recorded after Tune's last experiment "
                    "checkpoint (Tune runs them again under new trial ids)",
                    self.run_id,
                    self.task,
                    len(forgotten),
                )
            for trial_id, status in recorded.items():
                trial = live.get(trial_id)
                if trial is None:
                    continue
                if trial.status in FINISHED:
                    if status != trial.status:
                        error = error_text(trial) if trial.status == "ERROR" else None
                        self._finish(trial, trial.status, error)
                elif status != unfinished:
                    self.store.record_trial(
                        self.task, trial_id, config=dict(trial.config), status=unfinished, run_id=self.run_id
                    )
        except (StoreError, SQLAlchemyError, OSError) as err:
            logger.error(
                "Could not bring run %s of task %r in %s in line with Tune's trials: %s",
                self.run_id,
                self.task,
                self.url,
                scrub(str(err), self._url),
            )

    def _write(self, method: str, *args: Any, **kwargs: Any) -> None:
        try:
            getattr(self.store, method)(*args, **kwargs)
        except (StoreError, SQLAlchemyError, OSError) as err:
            logger.error(
                "Could not record trial %s of task %r in %s: %s",
                args[1],
                self.task,
                self.url,
                scrub(str(err), self._url),
            )


@dataclass(frozen=True)
class RunSettings:
    """What a Tune run was told to tune: its metric, mode and search space (None: unknown).

    ``in_tune`` is False for a callback used outside a Tune run (driven by hand).
    """

    in_tune: bool = False
    metric: str | None = None
    mode: str | None = None
    space: SearchSpace | None = None
    space_problem: str | None = None
    objectives: tuple[tuple[str, str], ...] = ()


#: The metric name Ray's schedulers fall back to when only a mode is given; not a real metric.
_ANONYMOUS_METRIC = "_metric"


def _tune_run_settings() -> RunSettings:
    """The metric, mode and search space of the ``tune.run`` call that is setting up callbacks.

    Tune passes callbacks none of these (``Callback.setup`` gets ``stop`` and
    ``num_samples``), so they are read from the calling ``ray.tune.tune.run`` frame (which
    ``Tuner.fit`` goes through): its ``metric``, ``mode`` and ``config`` (the Tuner's
    ``param_space``), then the searcher's and the scheduler's metric and mode, then a
    meta-tune searcher's space. Outside a Tune run (a callback driven by hand) nothing is
    known.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "run" and frame.f_globals.get("__name__") == "ray.tune.tune":
            break
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return RunSettings()
    local = frame.f_locals
    searchers: list[Any] = []
    level = local.get("search_alg")
    while level is not None and len(searchers) < 10:
        searchers.append(level)
        level = getattr(level, "searcher", None)
    sources = [local, *({"metric": _attr(s, "metric"), "mode": _attr(s, "mode")} for s in searchers)]
    scheduler = local.get("scheduler")
    sources.append({"metric": _attr(scheduler, "metric"), "mode": _attr(scheduler, "_mode")})
    metrics = [s.get("metric") for s in sources]
    metric = next((m for m in metrics if isinstance(m, str) and m and m != _ANONYMOUS_METRIC), None)
    mode = next((m for m in (s.get("mode") for s in sources) if m in ("min", "max")), None)
    space, problem = _space_of(local.get("config"))
    if space is None:
        for searcher in searchers:
            found = _attr(searcher, "space")
            if isinstance(found, SearchSpace) and len(found):
                space, problem = found, None
                break
    objectives: tuple[tuple[str, str], ...] = ()
    for searcher in searchers:  # a multi-objective searcher (ParetoSearcher) lists every objective
        metrics, modes = _attr(searcher, "metrics"), _attr(searcher, "modes")
        if (
            isinstance(metrics, list | tuple)
            and isinstance(modes, list | tuple)
            and len(metrics) > 1
            and len(metrics) == len(modes)
            and all(isinstance(m, str) for m in metrics)
            and all(m in ("min", "max") for m in modes)
        ):
            objectives = tuple(zip(metrics, modes))
            break
    if objectives and metric is None:
        metric, mode = objectives[0]
    return RunSettings(
        in_tune=True, metric=metric, mode=mode, space=space, space_problem=problem, objectives=objectives
    )


def _space_of(config: Any) -> tuple[SearchSpace | None, str | None]:
    """The search space of a ``param_space`` with at least one domain, else why there is none."""
    if not isinstance(config, Mapping) or not config:
        return None, None
    try:
        space = SearchSpace.from_tune(config)
    except (UnsupportedDomainError, InvalidConfigError) as err:
        return None, str(err)
    return (space, None) if len(space) else (None, None)


def _attr(obj: Any, name: str) -> Any:
    """``obj.name``, or None where it is missing or its property raises."""
    try:
        return getattr(obj, name, None)
    except Exception:  # a property of someone else's object: anything may go wrong
        return None


def error_text(trial: Any) -> str:
    """The text of a trial's error file, or a note that there is none."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        return Path(path).read_text(errors="replace")[-20_000:]
    return "the trial errored (no error file was written)"
