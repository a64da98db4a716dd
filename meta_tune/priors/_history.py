"""Reading a history of past trials into per-task arrays in a target search space."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.space import SearchSpace

logger = logging.getLogger(__name__)

META_PREFIX = "meta:"
#: Columns of a history that are bookkeeping, never hyperparameters.
RESERVED_COLUMNS = frozenset(
    {"task", "trial_id", "status", "training_iteration", "time_total_s", "runtime_s", "error"}
)
#: Trial statuses a prior learns from. Tune ends a trial that a scheduler stopped early as
#: TERMINATED too (at the step it reached); ERROR, RUNNING, PENDING and PAUSED trials never
#: finished, so their last value says nothing about the config.
FINISHED_STATUSES = frozenset({"TERMINATED"})


@dataclass(frozen=True)
class TaskHistory:
    """The finished trials of one training task, encoded in the target space.

    Attributes:
        name: The task name.
        unit: Configs in the target space's ordinal unit-cube encoding, ``(n, d)``.
        known: Which coordinates the history actually held, ``(n, d)``; unknown ones are 0.5.
        loss: The metric oriented so that lower is better (negated for ``mode="max"``), ``(n,)``.
        meta: The task's meta-features (``meta:<name>`` columns).
        cost: Seconds per step (``training_iteration``) of each trial, ``(n,)``; NaN where the
            history has no runtime; None when it has none at all.
        steps: Steps of the task's longest trial (1 when the history has no steps): a full
            run costs ``cost * steps``.
    """

    name: str
    unit: np.ndarray
    known: np.ndarray
    loss: np.ndarray
    meta: dict[str, float] = field(default_factory=dict)
    cost: np.ndarray | None = None
    steps: int = 1

    @property
    def regret(self) -> np.ndarray:
        """Per-trial normalized regret within the task: 0 for its best trial, 1 for its worst."""
        lo, hi = float(self.loss.min()), float(self.loss.max())
        if hi - lo <= 0:
            return np.zeros_like(self.loss)
        return (self.loss - lo) / (hi - lo)

    def top(self, quantile: float, minimum: int) -> np.ndarray:
        """Indices of the best ``quantile`` of trials (at least ``minimum``), best first."""
        n = max(minimum, math.ceil(quantile * len(self.loss)))
        return np.argsort(self.loss, kind="stable")[: min(n, len(self.loss))]


def read_history(
    history: pd.DataFrame, space: SearchSpace, *, metric: str, mode: Literal["min", "max"]
) -> list[TaskHistory]:
    """Split a history DataFrame by task and encode it in ``space``.

    Only finished trials count: with a ``status`` column, trials that errored or never
    finished (see :data:`FINISHED_STATUSES`) are dropped, and so are rows with a NaN or
    infinite metric (both counted in one log line). Where the history holds a row per step
    (``training_iteration``), each trial's last step counts; trials are told apart by
    ``trial_id`` when present. A trial's cost per step comes from ``runtime_s`` (or the last
    step's ``time_total_s``) divided by its last ``training_iteration``.

    Raises:
        InvalidConfigError: No ``task`` or metric column, or no usable row.
        IncompatibleSearchSpaceError: No column of the history is a parameter of ``space``.
    """
    if not isinstance(history, pd.DataFrame):
        raise InvalidConfigError(f"history must be a pandas DataFrame, got {type(history).__name__}")
    for column in ("task", metric):
        if column not in history.columns:
            raise InvalidConfigError(
                f"The history has no {column!r} column; its columns are {list(history.columns)}. "
                "It needs one row per trial with a 'task' column, one column per hyperparameter "
                "and the metric column."
            )
    if mode not in ("min", "max"):
        raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}")
    frame = _last_steps(history)
    _check_columns(frame.columns, space, metric, other_metrics=history.attrs.get("metrics", ()))

    values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)
    finished = _finished(frame)
    usable = np.isfinite(values) & finished
    if (~usable).any():
        logger.info(
            "Learning from %d of %d history trials: left out %d that did not finish (status not in %s) "
            "and %d whose %r is NaN, infinite or missing.",
            int(usable.sum()),
            len(values),
            int((~finished).sum()),
            sorted(FINISHED_STATUSES),
            int((finished & ~np.isfinite(values)).sum()),
            metric,
        )
    frame, values = frame[usable], values[usable]
    if frame.empty:
        raise InvalidConfigError(
            f"The history has no finished trial with a finite {metric!r}; a prior learns only from trials "
            f"that finished (status {sorted(FINISHED_STATUSES)}) and reported the metric."
        )
    loss = values if mode == "min" else -values
    cost, steps = _costs(frame)
    meta_columns = [c for c in frame.columns if str(c).startswith(META_PREFIX)]

    tasks = []
    for name, rows in frame.groupby("task", sort=True):
        index = frame.index.get_indexer(rows.index)
        unit, known = space.encode_flat(rows.to_dict("records"), "ordinal")
        meta = {
            str(c)[len(META_PREFIX) :]: float(rows[c].iloc[0])
            for c in meta_columns
            if pd.notna(rows[c].iloc[0])
        }
        tasks.append(
            TaskHistory(
                name=str(name),
                unit=unit,
                known=known,
                loss=loss[index],
                meta=meta,
                cost=None if cost is None else cost[index],
                steps=int(steps[index].max()),
            )
        )
    return tasks


def _finished(frame: pd.DataFrame) -> np.ndarray:
    """Which rows belong to finished trials (every row when there is no ``status``)."""
    if "status" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    status = frame["status"]
    return (status.isna() | status.astype(str).isin(FINISHED_STATUSES)).to_numpy()


def _costs(frame: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray]:
    """Each trial's seconds per step (None: no runtime in the history) and its steps."""
    steps = np.ones(len(frame))
    if "training_iteration" in frame.columns:
        reported = pd.to_numeric(frame["training_iteration"], errors="coerce").to_numpy(dtype=float)
        steps = np.where(np.isfinite(reported) & (reported >= 1), reported, 1.0)
    seconds = np.full(len(frame), np.nan)
    for column in ("time_total_s", "runtime_s"):  # runtime_s wins where both are known
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            seconds = np.where(np.isfinite(values) & (values > 0), values, seconds)
    if not np.isfinite(seconds).any():
        return None, steps
    return seconds / steps, steps


def _last_steps(history: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: the last step of each trial when the history holds curves."""
    frame = history.reset_index(drop=True)
    if "training_iteration" not in frame.columns or frame["training_iteration"].nunique() <= 1:
        return frame
    if "trial_id" not in frame.columns:
        raise InvalidConfigError(
            "The history holds rows of several steps (a 'training_iteration' column) but no "
            "'trial_id' column to tell trials apart; add one, or pass one row per trial."
        )
    order = frame.sort_values("training_iteration", kind="stable")
    return order.drop_duplicates(subset=["task", "trial_id"], keep="last").sort_index()


def _check_columns(
    columns: pd.Index, space: SearchSpace, metric: str, other_metrics: Iterable[str] = ()
) -> None:
    """The history must share a parameter with the space; warn about what does not match.

    It warns about parameters the history lacks and columns that are neither parameters nor
    metrics (``other_metrics``: the columns the store knows are metrics).
    """
    present = {str(c) for c in columns}
    params = space.flat_keys(constants=False)
    matched = [k for k in params if k in present]
    if not matched:
        raise IncompatibleSearchSpaceError(
            f"No column of the history is a parameter of the target space. The space's parameters "
            f"are {params}; the history's columns are {sorted(present)}. Rename the history's columns "
            "to the space's flattened parameter names (nested keys joined with '/')."
        )
    missing = [k for k in params if k not in present]
    known = set(space.flat_keys()) | RESERVED_COLUMNS | {metric, *other_metrics}
    extra = sorted(c for c in present if c not in known and not c.startswith(META_PREFIX))
    if missing or extra:
        warnings.warn(
            f"The history and the target space differ: parameters missing from the history "
            f"(their prior is uniform): {missing}; columns of the history that are not parameters of "
            f"the target space (ignored): {extra}.",
            UserWarning,
            stacklevel=3,
        )


def meta_features(tasks: list[TaskHistory], target: Mapping[str, Any] | None) -> np.ndarray | None:
    """Standardized meta-feature distances from each task to the target, or None if unknown."""
    if not target:
        return None
    shared = set(target)
    for task in tasks:
        shared &= set(task.meta)
    names = sorted(shared)
    if not names:
        logger.warning("No meta-feature is shared by the target and all training tasks; ignoring them.")
        return None
    table = np.array([[t.meta[n] for n in names] for t in tasks], dtype=float)
    scale = table.std(axis=0)
    scale[scale == 0] = 1.0
    diff = (table - np.array([float(target[n]) for n in names])) / scale
    return np.sqrt((diff**2).sum(axis=1))
