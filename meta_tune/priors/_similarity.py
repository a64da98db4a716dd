"""Task similarity: which training tasks resemble the target task.

Before the target has data, meta-features (when given) weight the training tasks by an RBF
kernel on standardized meta-feature distances. Once the target has observations, each
training task's surrogate is scored by how many pairs of the target's observations it ranks
wrongly, over bootstrap resamples, against a *no-transfer* reference that ranks half of them
wrongly (a coin flip); a task's weight is the share of resamples in which it ranks best, as
in RGPE (Feurer et al. 2018). Unrelated tasks therefore lose their say as target data
arrives, and the reference's share is the weight meta-tune's searchers give to plain search.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_RANKED_OBSERVATIONS = 200  # the most recent target observations a ranking loss looks at


@dataclass(frozen=True)
class TaskWeights:
    """Weights of the training tasks and of "no transfer"; together they sum to 1.

    Attributes:
        tasks: Weight of each training task, in the prior's task order.
        none: Weight of plain search without the prior.
    """

    tasks: np.ndarray
    none: float


def meta_feature_weights(distances: np.ndarray | None, n_tasks: int) -> np.ndarray:
    """RBF weights from meta-feature distances (uniform when there are none), summing to 1."""
    if distances is None:
        return np.full(n_tasks, 1.0 / n_tasks)
    scale = float(np.median(distances)) or 1.0
    w = np.exp(-0.5 * (distances / scale) ** 2)
    return w / w.sum()


def ranking_weights(
    predictions: Sequence[np.ndarray],
    target_loss: np.ndarray,
    prior_weights: np.ndarray,
    rng: np.random.Generator,
    n_bootstrap: int = 64,
) -> TaskWeights:
    """RGPE-style weights from each task's predictions at the target's observed configs.

    Args:
        predictions: For each training task, its surrogate's predictions at the target
            configs, ``(n,)`` each (lower is better).
        target_loss: The target's observed losses at those configs, ``(n,)``.
        prior_weights: Weights before target data (meta-features), breaking ties.
        rng: Random generator for the bootstrap.
        n_bootstrap: Number of bootstrap resamples.

    Returns:
        The task weights and the weight of "no transfer".
    """
    n_tasks = len(predictions)
    target_loss = np.asarray(target_loss, dtype=float)[-MAX_RANKED_OBSERVATIONS:]
    n = len(target_loss)
    if n < 2:
        return TaskWeights(tasks=np.asarray(prior_weights, dtype=float), none=0.0)
    better = target_loss[:, None] < target_loss[None, :]  # pair (i, j): i truly better than j
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_bootstrap)]).astype(
        float
    )
    # Bootstrap b's loss is sum_ij c_bi W_ij c_bj; as a matrix product it runs in BLAS (the
    # counts and pair indicators are small integers, so every sum is exact in any order).
    losses = np.empty((n_bootstrap, n_tasks + 1))
    with _one_blas_thread():
        reference = 0.5 * ((counts @ better.astype(float)) * counts).sum(axis=1)
        for t, raw in enumerate(predictions):
            pred = np.asarray(raw, dtype=float)[-MAX_RANKED_OBSERVATIONS:]
            wrong = better & (pred[:, None] >= pred[None, :])
            losses[:, t] = ((counts @ wrong.astype(float)) * counts).sum(axis=1)
    losses[:, n_tasks] = reference
    # Ties: the reference wins a tie (no evidence for transfer); among tasks, prior weights decide.
    tie_break = np.append(-np.asarray(prior_weights, dtype=float) * 1e-9, -1e-6)
    winners = np.argmin(losses + tie_break[None, :], axis=1)
    share = np.bincount(winners, minlength=n_tasks + 1) / n_bootstrap
    return TaskWeights(tasks=share[:n_tasks], none=float(share[n_tasks]))


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS on one thread for the ranking's small matrix products.

    A second thread gains nothing on matrices this small, and where the cores are busy
    (Tune's trials, other drivers) its wait for them made each refit of the task weights
    20-50 times slower (0.8-2.2 s instead of 17-40 ms for 97 tasks x 200 observations on
    2 busy cores; examples/scale.py, docs/scale.md).
    """
    limiter: AbstractContextManager[Any] = _threadpools().limit(limits=1, user_api="blas")
    return limiter
