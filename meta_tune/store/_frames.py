"""Store rows as pandas DataFrames: the ``history`` format meta-tune's priors read.

Columns, in order:

* ``task``, ``trial_id`` (and ``status`` for trials; ``training_iteration``,
  ``time_total_s`` for curves);
* one column per hyperparameter, named by its flattened path (nested config keys joined
  with ``"/"``), in order of first appearance; a task that recorded its search space is
  flattened with that space's rule (:meth:`meta_tune.space.SearchSpace.flatten`, the one
  the searchers and priors use: a list of domains gives ``name/0``, ``name/1``, ...), a task
  without one with :func:`meta_tune.space.flatten` (lists kept whole);
* one column per numeric metric (nested metric dicts flattened with ``"/"``; booleans as
  0/1; strings and other values are kept in the JSON but left out of the frame). A metric
  whose name is also a hyperparameter's is named ``result:<name>``, and a config key that
  is also one of these fixed columns (e.g. a ``task`` setting) ``config:<name>``. Tune's bookkeeping
  keys (:data:`BOOKKEEPING`) are not metrics;
* for trials: ``training_iteration`` (the last step reported), ``runtime_s`` and ``error``.

NaN and infinite metric values are stored as such and come back as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from meta_tune.space import SearchSpace, flatten

#: The search space each task recorded (None or missing: the task recorded none).
Spaces = Mapping[str, SearchSpace | None]

#: Keys of a Tune result that describe the run, not the model.
BOOKKEEPING = frozenset(
    {
        "config",
        "trial_id",
        "date",
        "timestamp",
        "pid",
        "hostname",
        "node_ip",
        "experiment_id",
        "experiment_tag",
        "done",
        "should_checkpoint",
        "checkpoint_dir_name",
        "time_this_iter_s",
        "time_since_restore",
        "iterations_since_restore",
        "timesteps_since_restore",
        "training_iteration",
        "time_total_s",
        "warmup_time",
    }
)


def clean_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """A Tune result without its bookkeeping keys."""
    return {k: v for k, v in result.items() if k not in BOOKKEEPING}


def _numeric(metrics_json: str | None) -> dict[str, float]:
    if not metrics_json:
        return {}
    out = {}
    for key, value in flatten(json.loads(metrics_json)).items():
        if isinstance(value, (bool, int, float)) and key not in BOOKKEEPING:
            out[key] = float(value)
    return out


def _frame(
    base: list[dict[str, Any]],
    *,
    configs: list[dict[str, Any]],
    metrics: list[dict[str, float]],
    tail: list[dict[str, Any]],
    base_columns: Sequence[str],
    tail_columns: Sequence[str],
) -> pd.DataFrame:
    reserved = {*base_columns, *tail_columns}
    keys = list(dict.fromkeys(k for c in configs for k in c))
    params = {k: f"config:{k}" if k in reserved else k for k in keys}
    metric_names = list(dict.fromkeys(k for m in metrics for k in m))
    renamed = {m: f"result:{m}" if m in keys or m in reserved else m for m in metric_names}
    records = []
    for b, c, m, t in zip(base, configs, metrics, tail):
        config = {params[k]: v for k, v in c.items()}
        records.append({**b, **config, **{renamed[k]: v for k, v in m.items()}, **t})
    columns = [*base_columns, *params.values(), *renamed.values(), *tail_columns]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame.attrs["metrics"] = list(renamed.values())  # so that a reader can tell them from parameters
    return frame


def config_flattener(task: str, spaces: Spaces | None) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """How the configs of ``task`` are flattened: by its recorded space's rule, else plainly."""
    space = (spaces or {}).get(task)
    return space.flatten if space is not None else flatten


def trials_frame(rows: Sequence[Any], spaces: Spaces | None = None) -> pd.DataFrame:
    """One row per trial, from ``(task name, Trial)`` rows; ``spaces``: each task's search space."""
    base, configs, metrics, tail = [], [], [], []
    for task_name, trial in rows:
        base.append({"task": task_name, "trial_id": trial.trial_id, "status": trial.status})
        configs.append(config_flattener(task_name, spaces)(json.loads(trial.config)))
        metrics.append(_numeric(trial.metrics))
        tail.append(
            {"training_iteration": trial.last_iteration, "runtime_s": trial.runtime_s, "error": trial.error}
        )
    return _frame(
        base,
        configs=configs,
        metrics=metrics,
        tail=tail,
        base_columns=["task", "trial_id", "status"],
        tail_columns=["training_iteration", "runtime_s", "error"],
    )


def curves_frame(rows: Sequence[Any], spaces: Spaces | None = None) -> pd.DataFrame:
    """One row per step, from ``(task name, trial id, config JSON, Result)`` rows."""
    base, configs, metrics = [], [], []
    for task_name, trial_id, config, result in rows:
        base.append(
            {
                "task": task_name,
                "trial_id": trial_id,
                "training_iteration": result.training_iteration,
                "time_total_s": result.time_total_s,
            }
        )
        configs.append(config_flattener(task_name, spaces)(json.loads(config)))
        metrics.append(_numeric(result.metrics))
    return _frame(
        base,
        configs=configs,
        metrics=metrics,
        tail=[{}] * len(base),
        base_columns=["task", "trial_id", "training_iteration", "time_total_s"],
        tail_columns=[],
    )


def history_frame(rows: Sequence[Any], infos: Sequence[Any]) -> pd.DataFrame:
    """Trials of many tasks with ``meta:<name>`` columns from each task's meta-features."""
    frame = trials_frame(rows, {info.name: info.space for info in infos})
    meta = {info.name: info.meta_features for info in infos}
    names = list(dict.fromkeys(k for features in meta.values() for k in features))
    for name in names:
        frame[f"meta:{name}"] = frame["task"].map(lambda t, n=name: meta.get(t, {}).get(n))
    return frame
