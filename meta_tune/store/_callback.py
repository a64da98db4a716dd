"""StoreCallback: one line that records every trial of any Tuner into the experiment store."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ray.tune import Callback
from sqlalchemy.exc import SQLAlchemyError

from meta_tune.errors import StoreError
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

    Args:
        store: A :class:`Store`, a store URL, or None for ``$MT_STORE`` / the default.
        task: The task name the trials are recorded under (created if needed).
        metric: The metric tuned (recorded on the task, for priors and ``store ls``).
        mode: ``"min"`` or ``"max"``.
        family: The family of related tasks, which priors learn across.
        space: The Tuner's ``param_space``, recorded with the task.
        meta_features: Numeric descriptors of the task (dataset size, ...).

    Example:
        >>> tune.Tuner(train, param_space=space, run_config=tune.RunConfig(
        ...     callbacks=[StoreCallback(task="mlp/digits", metric="acc", mode="max")]))
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        task: str,
        metric: str | None = None,
        mode: str | None = None,
        family: str | None = None,
        space: Mapping[str, Any] | None = None,
        meta_features: Mapping[str, Any] | None = None,
    ) -> None:
        self._store = store if isinstance(store, Store) else None
        self._url = store._url if isinstance(store, Store) else normalize_url(store or default_store_url())
        self.task, self.metric, self.mode, self.family = task, metric, mode, family
        self.space = dict(space) if space is not None else None
        self.meta_features = dict(meta_features or {})
        #: Names this run's rows in the store; kept in Tune's experiment checkpoint.
        self.run_id: str | None = None
        self._restored = False
        self._reconciled = True
        # Bad settings fail here, before any trial runs.
        self.store.create_task(
            task,
            metric=metric,
            mode=mode,
            family=family,
            space=self.space,
            meta_features=self.meta_features,
            exist_ok=True,
        )

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


def error_text(trial: Any) -> str:
    """The text of a trial's error file, or a note that there is none."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        return Path(path).read_text(errors="replace")[-20_000:]
    return "the trial errored (no error file was written)"
