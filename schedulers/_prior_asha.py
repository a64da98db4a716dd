"""ASHA and HyperBand settings chosen from how early and final results correlated on related tasks.

ASHA's grace period, reduction factor and ``max_t`` are usually guessed. Past learning curves
say how soon a curve's rank predicts its final rank: :func:`choose_asha` measures, per step,
the Spearman rank correlation between the metric at that step and at the last step, within
each past task, and takes the grace period as the first step where the mean correlation
reaches ``min_correlation``. It then replays successive halving with each candidate reduction
factor on the past tasks and keeps the most aggressive one that still keeps the best final
trial (mean normalized regret of the survivors' best at most ``tolerance``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers._curves import curve_matrix

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler

logger = logging.getLogger(__name__)

REDUCTION_FACTORS = (2, 3, 4)


@dataclass(frozen=True)
class ASHAChoice:
    """Scheduler settings learned from past curves, with the evidence behind them.

    Attributes:
        grace_period: First rung (steps).
        reduction_factor: Keep the top ``1 / reduction_factor`` at each rung.
        max_t: Steps of a whole trial.
        correlation: Mean within-task Spearman correlation of each step with the last,
            indexed by step.
        candidates: Per reduction factor, the replayed successive halving's ``regret``
            (mean normalized regret of the surviving best) and ``cost`` (steps trained, as a
            fraction of training every trial to ``max_t``).
    """

    grace_period: int
    reduction_factor: int
    max_t: int
    correlation: pd.Series
    candidates: pd.DataFrame

    def explain(self) -> str:
        """A one-paragraph account of the choice, for logs and reports."""
        rho = float(self.correlation.loc[self.grace_period])
        row = self.candidates.loc[self.reduction_factor]
        return (
            f"grace_period={self.grace_period} (first step whose rank correlation with the final step, "
            f"averaged over tasks, reaches {rho:.2f}), reduction_factor={self.reduction_factor} (replayed on "
            f"the past tasks: regret {row['regret']:.3f} at {row['cost']:.0%} of the full cost), "
            f"max_t={self.max_t}."
        )


def choose_asha(
    curves: pd.DataFrame,
    *,
    metric: str,
    mode: Literal["min", "max"],
    max_t: int | None = None,
    min_correlation: float = 0.7,
    tolerance: float = 0.02,
    reduction_factors: Sequence[int] = REDUCTION_FACTORS,
) -> ASHAChoice:
    """Choose ASHA's grace period and reduction factor from past learning curves.

    Args:
        curves: One row per reported step (``task``, ``trial`` or ``trial_id``,
            ``training_iteration``, ``metric``), as for :meth:`CurvePredictor.fit`.
        metric: The metric.
        mode: ``"min"`` or ``"max"``.
        max_t: Steps of a whole trial (default: the length most curves reach).
        min_correlation: The rank correlation with the final step a rung needs.
        tolerance: The largest acceptable mean normalized regret of successive halving's
            best survivor, replayed on the past tasks.
        reduction_factors: The candidates.

    Raises:
        InvalidConfigError: Bad arguments, or fewer than two tasks with four whole curves.
    """
    if mode not in ("min", "max"):
        raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}.")
    if not -1.0 <= min_correlation <= 1.0:
        raise InvalidConfigError(f"min_correlation must lie in [-1, 1], got {min_correlation}.")
    if not reduction_factors or min(reduction_factors) < 2:
        raise InvalidConfigError(f"reduction_factors must be integers >= 2, got {list(reduction_factors)}.")
    matrix, tasks = curve_matrix(curves, metric=metric, max_t=max_t)
    loss = matrix if mode == "min" else -matrix
    groups = [loss[[i for i, t in enumerate(tasks) if t == name]] for name in dict.fromkeys(tasks)]
    groups = [g for g in groups if len(g) >= 4]
    if len(groups) < 2:
        raise InvalidConfigError(
            "choose_asha needs whole curves of at least 4 trials on each of at least 2 tasks; got "
            f"{len(groups)} such task(s)."
        )
    steps = loss.shape[1]
    correlation = pd.Series(
        [float(np.nanmean([_spearman(g[:, t], g[:, -1]) for g in groups])) for t in range(steps)],
        index=pd.RangeIndex(1, steps + 1, name="step"),
        name="rank_correlation",
    )
    early = correlation.iloc[:-1]  # the last step correlates perfectly with itself
    reached = early[early >= min_correlation]
    grace = int(reached.index[0]) if len(reached) else steps
    if not len(reached):
        logger.warning(
            "No step before the last reaches rank correlation %.2f with the final result; ASHA would stop "
            "good trials, so grace_period = max_t = %d (no early stopping).",
            min_correlation,
            steps,
        )
    rows = {eta: _replay_halving(groups, grace, int(eta)) for eta in reduction_factors}
    candidates = pd.DataFrame.from_dict(rows, orient="index", columns=["regret", "cost"])
    candidates.index.name = "reduction_factor"
    ok = candidates[candidates["regret"] <= tolerance]
    eta = int(ok["cost"].idxmin()) if len(ok) else int(candidates["regret"].idxmin())
    choice = ASHAChoice(
        grace_period=grace, reduction_factor=eta, max_t=steps, correlation=correlation, candidates=candidates
    )
    logger.info("ASHA from %d past tasks: %s", len(groups), choice.explain())
    return choice


def asha_from_history(
    curves: pd.DataFrame,
    *,
    metric: str,
    mode: Literal["min", "max"],
    max_t: int | None = None,
    kind: Literal["asha", "hyperband"] = "asha",
    min_correlation: float = 0.7,
    tolerance: float = 0.02,
) -> TrialScheduler:
    """An ASHA (or HyperBand) scheduler configured by :func:`choose_asha` from past curves.

    The reasoning is logged at INFO. ``time_attr`` is ``training_iteration``.

    Args:
        curves: Past learning curves (see :func:`choose_asha`).
        metric: The metric.
        mode: ``"min"`` or ``"max"``.
        max_t: Steps of a whole trial (default: learned from the curves).
        kind: ``"asha"`` (:class:`ray.tune.schedulers.ASHAScheduler`) or ``"hyperband"``
            (:class:`ray.tune.schedulers.HyperBandScheduler`, which pauses trials).
        min_correlation: See :func:`choose_asha`.
        tolerance: See :func:`choose_asha`.

    Raises:
        InvalidConfigError: As :func:`choose_asha`, or an unknown ``kind``.
    """
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler

    if kind not in ("asha", "hyperband"):
        raise InvalidConfigError(f"kind must be 'asha' or 'hyperband', got {kind!r}.")
    choice = choose_asha(
        curves, metric=metric, mode=mode, max_t=max_t, min_correlation=min_correlation, tolerance=tolerance
    )
    if kind == "hyperband":
        return HyperBandScheduler(
            metric=metric, mode=mode, max_t=choice.max_t, reduction_factor=choice.reduction_factor
        )
    return ASHAScheduler(
        metric=metric,
        mode=mode,
        max_t=choice.max_t,
        grace_period=choice.grace_period,
        reduction_factor=choice.reduction_factor,
    )


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (NaN when either side is constant)."""
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    if np.std(ra) == 0 or np.std(rb) == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def _replay_halving(groups: Sequence[np.ndarray], grace: int, eta: int) -> tuple[float, float]:
    """Successive halving on each past task's curves: mean (regret of best survivor, cost)."""
    regrets, costs = [], []
    for loss in groups:
        steps = loss.shape[1]
        alive = np.arange(len(loss))
        trained = np.zeros(len(loss))
        rung = grace
        while rung < steps and len(alive) > 1:
            trained[alive] = rung
            keep = max(1, math.ceil(len(alive) / eta))
            alive = alive[np.argsort(loss[alive, rung - 1], kind="stable")[:keep]]
            rung *= eta
        trained[alive] = steps
        final = loss[:, -1]
        spread = float(final.max() - final.min())
        regrets.append(0.0 if spread <= 0 else float((final[alive].min() - final.min()) / spread))
        costs.append(float(trained.sum() / (len(loss) * steps)))
    return float(np.mean(regrets)), float(np.mean(costs))
