"""The cost model: how long a config takes to train, learned from the history's runtimes.

A config's cost on a task factors into the task's scale (its typical seconds per step) and
the config's cost relative to the task's typical config (a large model, many boosting
rounds). How much a config costs relative to the typical one differs from task to task
(a config that is cheap on a small data set may be among the slowest on a large one), so
one tree-ensemble regressor of the log relative cost is fitted per training task, and a
new task's relative cost is their mean (arithmetic, so a config that is slow on some of the
tasks is expected to be slow). For speed a single regressor is fitted to that mean over
every training config. The new task's scale starts at the training tasks' typical one and
is fitted online from its own results (Tune's ``time_total_s`` at each
``training_iteration``), shrunk towards that start while they are few.

References:
    Snoek, Larochelle and Adams, Practical Bayesian optimization of machine learning
    algorithms, NeurIPS 2012 (expected improvement per second).
    Lee et al., Cost-aware Bayesian optimization, arXiv:2003.10870, 2020 (CArBO: a cost
    model warm-started from cheap configs, cost cooling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from meta_tune.priors._history import TaskHistory
from meta_tune.priors._trees import TreeEnsemble, fit_trees

#: Trials of each task its relative-cost regressor is fitted on (a seeded sample of the rest).
MAX_COST_POINTS = 200
#: Training configs the new-task regressor (the tasks' mean) is fitted on.
MAX_POOLED_POINTS = 1500
#: The online scale counts the training tasks' typical scale as this many observations.
SCALE_SHRINK = 1.0


@dataclass(frozen=True)
class CostObservation:
    """What one finished (or stopped) trial of the target task cost.

    Attributes:
        unit: The trial's config in the prior space's ordinal unit-cube encoding, ``(d,)``.
        seconds: Tune's ``time_total_s`` of the trial's last result.
        steps: Its ``training_iteration`` there.
    """

    unit: np.ndarray
    seconds: float
    steps: int


class CostModel:
    """Expected training time of configs, for the training tasks and for a new task.

    Build it with :meth:`fit`; ``None`` comes back when the history has too few runtimes.

    Attributes:
        steps: Steps of a full run on a typical training task (the median task's longest trial).
        log_scale: Log seconds per step of a typical config on a typical training task.
    """

    def __init__(
        self,
        tasks: list[TreeEnsemble | None],
        mean: TreeEnsemble,
        *,
        log_scale: float,
        steps: int,
    ) -> None:
        self._tasks = tasks
        self._mean = mean
        self.log_scale = log_scale
        self.steps = steps

    @classmethod
    def fit(cls, tasks: Sequence[TaskHistory], *, seed: int) -> CostModel | None:
        """Fit the model on every task's trials with a known runtime.

        Returns:
            The model, or None when fewer than two tasks have two or more trials with a
            runtime (then the prior is cost-blind).
        """
        models: list[TreeEnsemble | None] = []
        pooled, scales, steps = [], [], []
        for t, task in enumerate(tasks):
            rows = (
                np.array([], dtype=int)
                if task.cost is None
                else np.flatnonzero(np.isfinite(task.cost) & (task.cost > 0))
            )
            if len(rows) < 2:
                models.append(None)
                continue
            if len(rows) > MAX_COST_POINTS:
                rows = np.sort(
                    np.random.default_rng([seed, 17, t]).choice(rows, MAX_COST_POINTS, replace=False)
                )
            assert task.cost is not None
            log_cost = np.log(task.cost[rows])
            centre = float(np.median(log_cost))
            models.append(fit_trees(task.unit[rows], log_cost - centre, seed=seed + t, min_samples_leaf=3))
            pooled.append(task.unit[rows])
            scales.append(centre)
            steps.append(task.steps)
        if len(pooled) < 2:
            return None
        x = np.concatenate(pooled)
        if len(x) > MAX_POOLED_POINTS:
            x = x[np.sort(np.random.default_rng([seed, 19]).choice(len(x), MAX_POOLED_POINTS, replace=False))]
        fitted = [m for m in models if m is not None]
        mean = np.log(np.mean([np.exp(m.predict(x)) for m in fitted], axis=0))
        return cls(
            models,
            fit_trees(x, mean, seed=seed, min_samples_leaf=3),
            log_scale=float(np.median(scales)),
            steps=int(np.median(steps)),
        )

    def relative(self, unit: np.ndarray) -> np.ndarray:
        """Each config's expected cost on a new task relative to a typical config (1 = typical), ``(n,)``."""
        unit = np.atleast_2d(np.asarray(unit, dtype=float))
        return np.exp(self._mean.predict(unit))

    def per_task(self, unit: np.ndarray) -> np.ndarray:
        """Each config's cost on each training task relative to its typical config, ``(n, n_tasks)``.

        Tasks without runtimes get the new-task expectation (:meth:`relative`).
        """
        unit = np.atleast_2d(np.asarray(unit, dtype=float))
        expected = self.relative(unit)
        return np.column_stack(
            [expected if m is None else np.exp(m.predict(unit)) for m in self._tasks]
        )

    def log_scale_for(self, observed: Sequence[CostObservation]) -> float:
        """The target task's log seconds per step of a typical config, given its own trials.

        With no observation it is the training tasks' typical scale; each observation's
        log seconds per step, less the config's predicted relative cost, pulls it towards
        the target's own (a mean shrunk by :data:`SCALE_SHRINK` pseudo-observations).
        """
        usable = [o for o in observed if np.isfinite(o.seconds) and o.seconds > 0 and o.steps >= 1]
        if not usable:
            return self.log_scale
        unit = np.stack([o.unit for o in usable])
        per_step = np.log([o.seconds / o.steps for o in usable])
        residual = per_step - np.log(self.relative(unit))
        return float((SCALE_SHRINK * self.log_scale + residual.sum()) / (SCALE_SHRINK + len(usable)))

    def seconds(
        self, unit: np.ndarray, *, observed: Sequence[CostObservation] = (), steps: int | None = None
    ) -> np.ndarray:
        """Expected seconds of a run of ``steps`` steps of each config on the target task, ``(n,)``.

        Args:
            unit: Configs in the prior space's ordinal encoding, ``(n, d)``.
            observed: The target task's finished trials so far (scale the model to it).
            steps: Steps per run (None: the most any observed trial ran, else :attr:`steps`).
        """
        if steps is None:
            steps = max((o.steps for o in observed), default=self.steps)
        return np.exp(self.log_scale_for(observed)) * self.relative(unit) * steps
