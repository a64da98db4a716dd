"""Per-task surrogates and the greedy zero-shot portfolio.

A portfolio is an ordered list of configs chosen greedily. Per trial, each next config is
the one that makes the mean over training tasks of the best normalized regret so far as
small as possible (Wistuba et al. 2015; Feurer et al. 2022). Per second (when the history
has runtimes), it is the one with the largest mean regret reduction per expected second,
the greedy rule for the area under the regret-vs-time curve (Streeter and Golovin, An
online algorithm for maximizing submodular functions, NeurIPS 2008): cheap, good configs
come first and a slow config has to earn its place. Training tasks need not share configs:
a small tree-ensemble surrogate per task scores the candidates it never evaluated.
"""

from __future__ import annotations

import numpy as np

from meta_tune.priors._cost import CostModel
from meta_tune.priors._history import TaskHistory
from meta_tune.priors._trees import TreeEnsemble, fit_trees


def fit_surrogates(tasks: list[TaskHistory], *, seed: int) -> list[TreeEnsemble]:
    """One regressor per task from its configs (ordinal unit cube) to its normalized regret."""
    return [fit_trees(task.unit, task.regret, seed=seed + i) for i, task in enumerate(tasks)]


def regret_matrix(
    candidates: np.ndarray,
    sources: np.ndarray,
    tasks: list[TaskHistory],
    surrogates: list[TreeEnsemble],
    *,
    risk: float = 0.0,
) -> np.ndarray:
    """Normalized regret of each candidate on each task, ``(n_candidates, n_tasks)``.

    A candidate taken from task ``t``'s own trials keeps its observed regret there
    (``sources[j] = (t, row)``, or ``(-1, -1)`` for a candidate of no task).

    Args:
        candidates: ``(n_candidates, d)`` configs in the ordinal unit cube.
        sources: ``(n_candidates, 2)`` rows ``(task, row)`` as above.
        tasks: The training tasks.
        surrogates: Each task's regret surrogate.
        risk: Pessimism of the predicted regrets: the trees' mean plus ``risk`` times their
            standard deviation (0: the mean). Where a task's trials hold a cliff (e.g. a
            learning rate past which training diverges), the trees disagree near it, so a
            config close to the cliff scores worse than its mean prediction.
    """
    if risk > 0:
        columns = []
        for model in surrogates:
            mean, spread = model.predict_spread(candidates)
            columns.append(mean + risk * spread)
        scores = np.clip(np.column_stack(columns), 0.0, 1.0)
    else:
        scores = np.column_stack([np.clip(m.predict(candidates), 0.0, 1.0) for m in surrogates])
    for j, (t, row) in enumerate(sources):
        if t >= 0:
            scores[j, t] = tasks[t].regret[row]
    return scores


def greedy_portfolio(
    scores: np.ndarray,
    size: int,
    task_weights: np.ndarray,
    costs: np.ndarray | None = None,
    *,
    overhead: float = 0.0,
    cost_exponent: float = 1.0,
) -> list[int]:
    """Indices of ``size`` candidates chosen greedily, per trial or per second.

    Args:
        scores: ``(n_candidates, n_tasks)`` normalized regrets (lower is better).
        size: Portfolio length (at most the number of candidates).
        task_weights: Weight of each task (summing to 1).
        costs: ``(n_candidates, n_tasks)`` cost of each candidate on each task relative to
            the task's typical config; None picks per trial (the weighted mean regret after
            the pick), given picks per second (the weighted mean regret reduction divided by
            the weighted mean cost plus ``overhead``). Once no candidate reduces the regret,
            the rest are picked per trial, the cheaper first among equals.
        overhead: Cost of starting a trial, in the same units as ``costs``.
        cost_exponent: Per second, the reduction is divided by (cost + ``overhead``) to this
            power: 1 per second, 0 the same picks as per trial.

    Returns:
        The chosen candidate indices in the order they were picked.
    """
    best = np.ones(scores.shape[1])
    chosen: list[int] = []
    available = np.ones(scores.shape[0], dtype=bool)
    expense = None if costs is None else (costs @ task_weights + overhead) ** cost_exponent
    for _ in range(min(size, scores.shape[0])):
        mean_regret = np.minimum(best[None, :], scores) @ task_weights
        mean_regret[~available] = np.inf
        if expense is not None:
            gain = float(best @ task_weights) - mean_regret
            if np.nanmax(np.where(available, gain, -np.inf)) > 1e-9:
                rate = np.where(available, gain / expense, -np.inf)
                j = int(np.argmax(rate))
            else:
                j = int(np.lexsort((expense, mean_regret))[0])
        else:
            j = int(np.argmin(mean_regret))
        chosen.append(j)
        available[j] = False
        best = np.minimum(best, scores[j])
    return chosen


def cost_matrix(
    candidates: np.ndarray, sources: np.ndarray, tasks: list[TaskHistory], model: CostModel
) -> np.ndarray:
    """Cost of each candidate on each task relative to the task's typical config, ``(n_candidates, n_tasks)``.

    Predicted by each task's cost model, except on a candidate's own source task where its
    runtime was observed (``sources`` as in :func:`regret_matrix`).
    """
    costs = model.per_task(candidates)
    typical: dict[int, float] = {}  # each source task's typical (median) cost, computed once
    for j, (t, row) in enumerate(sources):
        task_cost = tasks[t].cost if t >= 0 else None
        if task_cost is not None and np.isfinite(task_cost[row]) and task_cost[row] > 0:
            if t not in typical:
                known = task_cost[np.isfinite(task_cost) & (task_cost > 0)]
                typical[t] = float(np.exp(np.median(np.log(known))))
            costs[j, t] = task_cost[row] / typical[t]
    return costs
