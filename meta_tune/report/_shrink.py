"""Search only the hyperparameters that mattered on past tasks, the others fixed by the prior.

``top_k_space`` shrinks a Tune ``param_space`` to the ``k`` hyperparameters that were most
often important across a family (:func:`~meta_tune.report.summarize_importance`), fixing the
others at the prior's best config. ``top_k_experiment`` measures on a YAHPO scenario's
meta-test tasks whether random search in the shrunk space beats it in the full space.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meta_tune.errors import InvalidConfigError
from meta_tune.report._importance import summarize_importance, trials_importance

logger = logging.getLogger(__name__)


def top_k_space(
    param_space: Mapping[str, Any], ranked: Sequence[str], k: int, fixed: Mapping[str, Any]
) -> dict[str, Any]:
    """A flat Tune ``param_space`` that searches only ``ranked[:k]``; every other key is fixed.

    Args:
        param_space: The full space (flat: one Tune domain or constant per key).
        ranked: Parameter names, most important first (e.g. ``summarize_importance(...)["param"]``).
        k: How many to keep searching.
        fixed: The value of every other parameter (e.g. the prior's best config, flattened).

    Returns:
        The shrunk ``param_space``.

    Raises:
        InvalidConfigError: ``k`` is not positive, the space is nested, or ``fixed`` lacks a
            value for a parameter that is not kept.
    """
    if k < 1:
        raise InvalidConfigError(f"k must be at least 1, got {k}.")
    nested = [key for key, value in param_space.items() if isinstance(value, Mapping | list)]
    if nested:
        raise InvalidConfigError(f"top_k_space needs a flat param_space; {', '.join(nested)} are nested.")
    keep = [name for name in ranked if name in param_space][:k]
    missing = [name for name in param_space if name not in keep and name not in fixed]
    if missing:
        raise InvalidConfigError(f"No fixed value for {', '.join(missing)} (not among the top {k}).")
    return {name: domain if name in keep else fixed[name] for name, domain in param_space.items()}


def top_k_experiment(
    scenario: str,
    *,
    ks: Sequence[int] = (1, 2, 3),
    budgets: Sequence[int] = (10, 50, 100),
    seeds: int = 5,
    history_trials: int = 100,
    evaluator: str = "fanova",
    data_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random search in the full space against random search in the top-k spaces, on meta-test tasks.

    Importance comes from the meta-train tasks only (``history_trials`` random configs each,
    :func:`~meta_tune.bench.random_history`): each task's importance, then
    :func:`summarize_importance` ranks the parameters by how often they are in a task's top 3.
    The fixed values are the first config of the prior's portfolio
    (:func:`meta_tune.priors.fit` on the same history). Every variant draws its configs with
    the same seeds, so variants differ only in the space.

    Args:
        scenario: A YAHPO scenario with a flat space (``rbv2_rpart``, ``lcbench``, ``iaml_glmnet``).
        ks: The sizes of the shrunk spaces.
        budgets: Trial counts at which the regret is read.
        seeds: Runs per variant and task.
        history_trials: Random configs per meta-train task.
        evaluator: ``"fanova"`` or ``"pedanova"``.
        data_dir: The YAHPO data folder (default: as :func:`meta_tune.bench.load_scenario`).

    Returns:
        ``(runs, ranking)``: one row per variant (``full``, ``top1``, ..., and the control
        ``full+best first``: random search in the full space after the prior's best config,
        the one whose values the top-k spaces fix), task, seed and budget with the normalized
        ``regret`` of the best config so far; and the parameter ranking
        (:func:`summarize_importance`) the shrunk spaces were built from.
    """
    from meta_tune.bench import load_scenario, meta_split, metric_bounds, random_history
    from meta_tune.priors import fit
    from meta_tune.space import SearchSpace

    loaded = load_scenario(scenario, data_dir)
    split = meta_split(loaded)
    metric = loaded.default_metric
    mode = loaded.mode(metric)
    param_space = loaded.param_space()
    full = SearchSpace.from_tune(param_space)
    history = random_history(loaded, split.train, n_per_task=history_trials, seed=0)
    per_task = []
    for task, rows in history.groupby("task", sort=False):
        scores = trials_importance(rows, full.names, metric=metric, mode=mode, evaluator=evaluator)
        per_task += [{"task": task, "param": p, "importance": float(v)} for p, v in scores.items()]
    ranking = summarize_importance(pd.DataFrame(per_task))
    prior = fit(history[["task", *full.names, metric]], space=full, metric=metric, mode=mode, seed=0)
    fixed = full.flatten(prior.portfolio[0])
    logger.info("Importance ranking on %d meta-train tasks: %s; fixed values %s",
                len(split.train), list(ranking["param"]), fixed)  # fmt: skip
    bounds = metric_bounds(loaded, metric, tasks=split.test)
    variants = {"full": full}
    ranked = list(ranking["param"])
    for k in ks:
        if k < len(full.names):
            variants[f"top{k}"] = SearchSpace.from_tune(top_k_space(param_space, ranked, k, fixed))
    rows_out = []
    n = max(budgets)
    for t, task in enumerate(split.test):
        for seed in range(seeds):
            for variant, space in [*variants.items(), ("full+best first", full)]:
                configs = space.sample(np.random.default_rng([seed, t]), n)
                if variant == "full+best first":  # the control: the fixed values' config, then random
                    configs = [prior.portfolio[0], *configs[: n - 1]]
                values = [r[metric] for r in loaded.evaluate(task, configs)]
                regret = np.fmin.accumulate(bounds[task].regret(values))
                rows_out += [
                    {"variant": variant, "task": task, "seed": seed, "budget": b, "regret": regret[b - 1]}
                    for b in budgets
                ]
    return pd.DataFrame(rows_out), ranking
