"""Pareto fronts, hypervolume, and a Pareto portfolio learned from past tasks' trials.

Every function here minimizes: orient maximized objectives (negate them) first.

The **Pareto portfolio** is the multi-objective counterpart of the prior's greedy
zero-shot portfolio: per training task, each objective is replaced by its rank among that
task's trials (scaled to [0, 1], so seconds, bytes and accuracies weigh alike and a few very
slow configs do not stretch the scale); one multi-output tree ensemble per task predicts these
ranks for any config; the candidates are the configs on some task's observed Pareto front;
and configs are added greedily, each time the one that most increases the hypervolume summed
over the training tasks (the dominated share of each task's rank box, ``[0, 1]^k`` with
reference point ``(1, ..., 1)``, estimated on a fixed set of points of the box).

References:
    Deb et al., A fast and elitist multiobjective genetic algorithm: NSGA-II, IEEE TEC 2002
    (non-dominated sorting).
    Wistuba et al., Sequential model-free hyperparameter tuning, ICDM 2015 (greedy portfolios).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from meta_tune.errors import InvalidConfigError
from meta_tune.priors._history import read_history
from meta_tune.priors._trees import fit_trees
from meta_tune.space import SearchSpace

logger = logging.getLogger(__name__)

#: Points of the rank box the portfolio's hypervolume is estimated on.
BOX_POINTS = 512


def non_dominated_ranks(points: np.ndarray) -> np.ndarray:
    """The non-dominated sorting rank of each row (0: on the Pareto front), minimizing every column.

    Args:
        points: Objective vectors, ``(n, k)``.

    Returns:
        Integer ranks, ``(n,)``: rank ``r`` rows are dominated only by rows of rank below ``r``.
    """
    points = np.atleast_2d(np.asarray(points, dtype=float))
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=int)
    le = (points[:, None, :] <= points[None, :, :]).all(axis=2)
    lt = (points[:, None, :] < points[None, :, :]).any(axis=2)
    dominates = np.asarray(le & lt)  # dominates[i, j]: row i dominates row j
    ranks = np.full(n, -1, dtype=int)
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        dominated = np.asarray(dominates[remaining][:, remaining]).any(axis=0)
        front = np.flatnonzero(remaining)[~dominated]
        ranks[front] = rank
        remaining[front] = False
        rank += 1
    return ranks


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Which rows are on the Pareto front (no other row dominates them), minimizing every column."""
    return non_dominated_ranks(points) == 0


def hypervolume(points: np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """The volume dominated by ``points`` and bounded by ``reference``, exactly (minimizing).

    Points that do not dominate the reference in every objective add nothing. Two objectives
    take one sweep over the sorted front; more are sliced along the last objective (exact,
    fine for the fronts of a tuning run).

    Args:
        points: Objective vectors, ``(n, k)``; NaN rows are ignored.
        reference: The reference point, ``(k,)``: the worst value that still counts.
    """
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.isfinite(pts).all(axis=1) & (pts < ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    return _volume(pts[pareto_mask(pts)], ref)


def _volume(pts: np.ndarray, ref: np.ndarray) -> float:
    k = pts.shape[1]
    if k == 1:
        return float(ref[0] - pts[:, 0].min())
    if k == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        x, y = pts[order, 0], pts[order, 1]
        best_y = np.minimum.accumulate(y)  # the front's height left of each x
        widths = np.diff(np.append(x, ref[0]))
        return float(np.sum(widths * (ref[1] - best_y)))
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    cuts = np.append(pts[1:, -1], ref[-1])
    total = 0.0
    for i in range(len(pts)):
        depth = cuts[i] - pts[i, -1]
        if depth > 0:
            slab = pts[: i + 1, :-1]
            total += depth * _volume(slab[pareto_mask(slab)], ref[:-1])
    return total


def pareto_portfolio(
    history: pd.DataFrame,
    space: SearchSpace,
    *,
    metrics: Sequence[str],
    modes: Sequence[Literal["min", "max"]],
    size: int = 20,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Configs that were Pareto-good across the history's tasks, best set first (see the module docstring).

    Args:
        history: Past trials: ``task``, one column per flattened parameter, one per metric
            (as :func:`meta_tune.priors.fit` reads it); only trials that finished with every
            metric finite count.
        space: The target search space.
        metrics: The objectives, two or more column names.
        modes: ``"min"`` or ``"max"`` for each objective.
        size: Configs in the portfolio (fewer when there are fewer candidates).
        seed: Seeds the surrogates and the points of the rank box.

    Returns:
        Configs of ``space``, in greedy order: the first ``n`` are the greedy choice for ``n``.

    Raises:
        InvalidConfigError: Metrics and modes differ in length, a metric column is missing,
            or no trial has every metric.
    """
    if len(metrics) != len(modes) or not metrics:
        raise InvalidConfigError(
            f"Give one mode per metric: got metrics {list(metrics)} and modes {list(modes)}."
        )
    if size < 1:
        raise InvalidConfigError(f"A Pareto portfolio needs size >= 1, got {size}")
    missing = [m for m in metrics if m not in history.columns]
    if missing:
        raise InvalidConfigError(
            f"The history has no column for the objectives {missing}; "
            f"its columns are {list(history.columns)}."
        )
    finite = np.isfinite(history[list(metrics)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float))
    frame = history[finite.all(axis=1)]
    frame.attrs["metrics"] = [*history.attrs.get("metrics", ()), *metrics]
    per_metric = [read_history(frame, space, metric=m, mode=mode) for m, mode in zip(metrics, modes)]
    units, ranks, models = [], [], []
    for t, task in enumerate(per_metric[0]):
        # The same rows survive for every metric (all are finite), so the encodings agree.
        assert all(len(p[t].loss) == len(task.loss) for p in per_metric)
        losses = np.column_stack([p[t].loss for p in per_metric])
        scaled = np.column_stack([_rank01(column) for column in losses.T])
        units.append(task.unit)
        ranks.append(scaled)
        models.append(fit_trees(task.unit, scaled, seed=seed + t) if len(task.loss) > 1 else None)

    candidates, sources = [], []
    for t, (unit, scaled) in enumerate(zip(units, ranks)):
        for row in np.flatnonzero(pareto_mask(scaled)):
            candidates.append(unit[row])
            sources.append((t, int(row)))
    cand = np.unique(np.stack(candidates), axis=0, return_index=True)[1]
    order = np.sort(cand)
    candidate_units = np.stack(candidates)[order]
    candidate_sources = [sources[i] for i in order]

    box = np.random.default_rng(seed).random((BOX_POINTS, len(metrics)))
    covered = np.zeros((len(units), BOX_POINTS), dtype=bool)
    dominated = np.zeros((len(candidate_units), len(units), BOX_POINTS), dtype=bool)
    for t, model in enumerate(models):
        predicted = (
            ranks[t][[0] * len(candidate_units)] if model is None else model.predict(candidate_units)
        )
        for j, (source, row) in enumerate(candidate_sources):
            if source == t:  # a task's own trial keeps its observed ranks there
                predicted[j] = ranks[t][row]
        dominated[:, t, :] = (predicted[:, None, :] <= box[None, :, :]).all(axis=2)

    chosen: list[int] = []
    for _ in range(min(size, len(candidate_units))):
        gain = (dominated & ~covered[None]).sum(axis=(1, 2)).astype(float)
        gain[chosen] = -1.0
        best = int(np.argmax(gain))
        chosen.append(best)
        covered |= dominated[best]
    logger.info(
        "Pareto portfolio of %d configs from %d candidates on %d tasks: "
        "mean dominated share of the rank box %.3f",
        len(chosen),
        len(candidate_units),
        len(units),
        float(covered.mean()),
    )
    return space.decode_many(candidate_units[chosen], "ordinal")


def _rank01(values: np.ndarray) -> np.ndarray:
    """Each value's rank among ``values`` scaled to [0, 1] (0: the best, ties share their mean rank)."""
    ranks = pd.Series(values).rank(method="average").to_numpy(dtype=float) - 1.0
    return ranks / max(1.0, len(values) - 1.0)
