"""Hyperparameter importance per task (Optuna's fANOVA or PED-ANOVA) and across a family."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from meta_tune._imports import require
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    from meta_tune.store import Store

logger = logging.getLogger(__name__)

#: The importance evaluators :func:`importance` accepts.
EVALUATORS = ("fanova", "pedanova")

#: A hyperparameter counts as mattering on a task when it is among this many most important.
TOP_K = 3


def _distribution(values: pd.Series) -> Any:
    """An Optuna distribution covering the observed values of one hyperparameter (None: constant)."""
    distributions = require("optuna.distributions", extra="bench")
    present = values.dropna()
    if present.nunique() < 2:
        return None
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        return distributions.CategoricalDistribution(sorted(present.astype(str).unique()))
    low, high = float(present.min()), float(present.max())
    if pd.api.types.is_integer_dtype(present) or bool((present == present.round()).all()):
        if present.nunique() <= 8:  # a choice among a few numbers (batch size, width): categorical
            return distributions.CategoricalDistribution(sorted(present.astype(str).unique()))
        return distributions.IntDistribution(int(low), int(high))
    log = low > 0 and high / low > 100
    return distributions.FloatDistribution(low, high, log=log)


def trials_importance(
    trials: pd.DataFrame,
    params: Sequence[str],
    *,
    metric: str,
    mode: Literal["min", "max"],
    evaluator: str = "fanova",
    seed: int = 0,
) -> pd.Series:
    """The importance of each hyperparameter on one task's trials, normalized to sum to 1.

    The trials become a finished Optuna study (each parameter's distribution spans its
    observed values; a numeric parameter with at most 8 values counts as categorical), which
    Optuna's evaluator scores. A parameter that some trials lack (conditional) or that never
    varies is left out, as Optuna's evaluators do.

    Args:
        trials: One row per trial with the ``params`` columns and ``metric``.
        params: The hyperparameter columns.
        metric: The column to explain.
        mode: Whether ``metric`` is minimized or maximized.
        evaluator: ``"fanova"`` (random-forest functional ANOVA, Hutter et al. 2014) or
            ``"pedanova"`` (PED-ANOVA, Watanabe et al. 2023: what sets the best 10% apart).
        seed: The forest's seed (fANOVA).

    Returns:
        Parameter -> importance, most important first; empty when fewer than 4 trials have a
        finite ``metric`` or no parameter varies.

    Raises:
        InvalidConfigError: ``evaluator`` is not one of :data:`EVALUATORS`.
    """
    optuna = require("optuna", extra="bench")
    if evaluator not in EVALUATORS:
        raise InvalidConfigError(f"evaluator must be one of {', '.join(EVALUATORS)}; got {evaluator!r}.")
    values = pd.to_numeric(trials[metric], errors="coerce")
    usable = trials[np.isfinite(values.to_numpy(dtype=float))]
    if len(usable) < 4:
        return pd.Series(dtype=float)
    distributions = {p: d for p in params if (d := _distribution(usable[p])) is not None}
    if not distributions:
        return pd.Series(dtype=float)
    frozen = []
    for record in usable[[*distributions, metric]].to_dict("records"):
        config: dict[str, Any] = {}
        used = {}
        for name, dist in distributions.items():
            value = record[name]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                value = str(value)
            elif isinstance(dist, optuna.distributions.IntDistribution):
                value = int(value)
            else:
                value = float(value)
            config[name] = value
            used[name] = dist
        frozen.append(
            optuna.trial.create_trial(params=config, distributions=used, value=float(record[metric]))
        )
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "A new study created" per task
    try:
        study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
        study.add_trials(frozen)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # PED-ANOVA's
            scorer = (
                optuna.importance.FanovaImportanceEvaluator(seed=seed)
                if evaluator == "fanova"
                else optuna.importance.PedAnovaImportanceEvaluator()
            )
            scores = optuna.importance.get_param_importances(study, evaluator=scorer, normalize=True)
    except (RuntimeError, ValueError) as err:  # e.g. no parameter common to every trial
        logger.warning("No importance for %s: %s", metric, err)
        return pd.Series(dtype=float)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return pd.Series(scores, dtype=float).sort_values(ascending=False)


def summarize_importance(per_task: pd.DataFrame, *, top_k: int = TOP_K) -> pd.DataFrame:
    """Which hyperparameters matter across tasks, and how much that varies.

    Args:
        per_task: Columns ``task``, ``param``, ``importance`` (as :func:`importance` returns
            per task).
        top_k: A parameter "matters" on a task when it is among the ``top_k`` most important.

    Returns:
        One row per parameter, most important first: ``param``, ``tasks`` (how many tasks
        scored it), ``top_k_share`` (the share of tasks where it was in the top ``top_k``),
        ``mean``, ``std``, ``median``, ``q25`` and ``q75`` of its importance (0 on a task where
        it did not vary).
    """
    if per_task.empty:
        return pd.DataFrame(columns=["param", "tasks", "top_k_share", "mean", "std", "median", "q25", "q75"])
    wide = per_task.pivot_table(index="task", columns="param", values="importance", aggfunc="first")
    ranks = wide.rank(axis=1, ascending=False, method="min")
    filled = wide.fillna(0.0)
    n_tasks = len(wide)
    out = pd.DataFrame(
        {
            "param": wide.columns,
            "tasks": wide.notna().sum().to_numpy(),
            "top_k_share": ((ranks <= top_k).sum() / n_tasks).to_numpy(),
            "mean": filled.mean().to_numpy(),
            "std": filled.std(ddof=0).to_numpy(),
            "median": filled.median().to_numpy(),
            "q25": filled.quantile(0.25).to_numpy(),
            "q75": filled.quantile(0.75).to_numpy(),
        }
    )
    return out.sort_values(["top_k_share", "mean"], ascending=False).reset_index(drop=True)


def task_params(trials: pd.DataFrame, space_names: Sequence[str] | None) -> list[str]:
    """The hyperparameter columns of a store trials frame (its space's names where recorded)."""
    if space_names:
        return [n for n in space_names if n in trials.columns]
    raise InvalidConfigError(
        "The task recorded no search space, so its hyperparameter columns are unknown; record it "
        "with StoreCallback (which saves the space) or import it with `meta-tune store import`."
    )


def importance(
    store: Store,
    *,
    task: str | None = None,
    family: str | None = None,
    metric: str | None = None,
    evaluator: str = "fanova",
    seed: int = 0,
) -> pd.DataFrame:
    """Hyperparameter importance of a task's trials, or of each task of a family.

    Example:
        >>> from meta_tune.report import importance, summarize_importance
        >>> per_task = importance(Store(), family="image")  # doctest: +SKIP
        >>> summarize_importance(per_task).head(3)  # doctest: +SKIP

    Args:
        store: The experiment store.
        task: One task (exclusive with ``family``).
        family: Every task of this family.
        metric: The metric to explain (default: the one each task recorded).
        evaluator: ``"fanova"`` or ``"pedanova"`` (see :func:`trials_importance`).
        seed: fANOVA's seed.

    Returns:
        Columns ``task``, ``param``, ``importance`` (each task's sum to 1), ``rank`` (1: the
        most important on that task), ``trials`` (finished trials scored).

    Raises:
        InvalidConfigError: Neither or both of ``task`` and ``family``, an unknown family, or
            a task without a metric or search space.
        StoreError: An unknown task.
    """
    if (task is None) == (family is None):
        raise InvalidConfigError(
            f"Give exactly one of task= and family= (got task={task!r}, family={family!r})."
        )
    if evaluator not in EVALUATORS:
        raise InvalidConfigError(f"evaluator must be one of {', '.join(EVALUATORS)}; got {evaluator!r}.")
    if task is not None:
        infos = [store.get_task(task)]
    else:
        infos = store.list_tasks(family)
        if not infos:
            raise InvalidConfigError(
                f"The store {store.url} has no tasks of family {family!r}: see `meta-tune store ls`."
            )
    rows = []
    for info in infos:
        name = metric or info.metric
        if name is None or info.mode not in ("min", "max"):
            raise InvalidConfigError(f"The task {info.name!r} recorded no metric and mode: pass metric=.")
        space = info.space
        trials = store.trials(info.name)
        if "status" in trials:
            trials = trials[trials["status"].isin(["TERMINATED"]) | trials["status"].isna()]
        if name not in trials:
            raise InvalidConfigError(
                f"The task {info.name!r} has no metric {name!r}; it has "
                f"{', '.join(c for c in trials.columns if c not in ('task', 'trial_id'))}."
            )
        params = task_params(trials, None if space is None else space.names)
        scores = trials_importance(
            trials,
            params,
            metric=name,
            mode=info.mode,  # type: ignore[arg-type]
            evaluator=evaluator,
            seed=seed,
        )
        logger.debug("Importance of %s: %s", info.name, scores.to_dict())
        for rank, (param, value) in enumerate(scores.items(), start=1):
            rows.append(
                {
                    "task": info.name,
                    "param": param,
                    "importance": float(value),
                    "rank": rank,
                    "trials": len(trials),
                }
            )
    return pd.DataFrame(rows, columns=["task", "param", "importance", "rank", "trials"])
