"""An OpenAI-style evolution strategy as a nevergrad optimizer (nevergrad ships none).

Salimans et al. (2017): a Gaussian search distribution ``N(mean, diag(sigma^2))`` whose mean
follows a Monte-Carlo estimate of the natural gradient, from mirrored (antithetic) samples
and rank-based fitness shaping. It is written against nevergrad's
``base.Optimizer`` so that :class:`~meta_tune.searchers.PriorEvolutionSearcher` drives it
like CMA-ES and DE: seeded by the parametrization's random state, points injected with
``optimizer.suggest`` (the prior's portfolio), and rebuilt exactly by replaying its
ask/tell log.

References:
    Salimans et al., Evolution strategies as a scalable alternative to reinforcement
    learning, arXiv:1703.03864, 2017.
    Wierstra et al., Natural evolution strategies, JMLR 15, 2014 (fitness shaping).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from nevergrad.optimization import base
from nevergrad.parametrization import parameter as p


class OpenAIES(base.Optimizer):
    """OpenAI-ES on a bounded ``ng.p.Array`` (values in ``[0, 1]``).

    The search distribution starts at the parametrization's initial value with its
    per-coordinate ``sigma`` (the prior's warm start). Each generation draws ``popsize / 2``
    noise vectors and asks for ``mean + sigma * eps`` and ``mean - sigma * eps`` (reflected
    into the cube); once ``popsize`` results are told (each with the noise that gives the point
    where it landed, injected points too), the mean moves by ``-2 sigma sum(u_i eps_i) / n``,
    where ``u_i`` are the centred ranks of the losses in ``[-0.5, 0.5]``. Sigma stays fixed,
    as in the paper. Plain steps rather than the paper's Adam: over the tens of generations
    a tuning budget allows, Adam's momentum overshot a quadratic's optimum to the bounds.

    Args:
        parametrization: An ``ng.p.Array`` bounded to ``[0, 1]`` with its mutation sigma set.
        budget: Trials planned (not used to adapt anything).
        num_workers: Trials in flight; the population is at least twice this.
        popsize: Samples per generation (rounded up to even); None: ``max(8, 2 *
            num_workers, 4 + 3 log(dim))``.
        learning_rate: Step of the mean, in units of ``sigma`` per unit of the gradient
            estimate (2: a steady slope moves the mean about one sigma per generation, as
            the rank utilities correlate about 0.29 with each noise coordinate).
    """

    def __init__(
        self,
        parametrization: p.Parameter,
        budget: int | None = None,
        num_workers: int = 1,
        *,
        popsize: int | None = None,
        learning_rate: float = 2.0,
    ) -> None:
        super().__init__(parametrization, budget=budget, num_workers=num_workers)
        size = popsize or max(8, 2 * num_workers, 4 + int(3 * math.log(max(self.dimension, 1))))
        self.popsize = size + size % 2
        self.learning_rate = learning_rate
        self.mean = np.asarray(self.parametrization.value, dtype=float).ravel().copy()
        self.sigma = np.broadcast_to(
            np.asarray(self.parametrization.sigma.value, dtype=float), self.mean.shape
        ).copy()
        self.generations = 0
        self._mirror: list[np.ndarray] = []  # the other half of an antithetic pair, asked next
        self._batch: list[tuple[np.ndarray, float]] = []

    def _internal_ask_candidate(self) -> p.Parameter:
        if self._mirror:
            eps = -self._mirror.pop()
        else:
            eps = self._rng.normal(size=self.mean.shape)
            self._mirror.append(eps)
        return self.parametrization.spawn_child(new_value=_reflect(self.mean + self.sigma * eps))

    def _internal_tell_candidate(self, candidate: p.Parameter, loss: Any) -> None:
        # The noise that gives the point where it landed (reflected at a bound, or injected):
        # at a bound, a mirrored pair reflected onto one point must not cancel out.
        eps = (np.asarray(candidate.value, dtype=float).ravel() - self.mean) / self.sigma
        self._batch.append((eps, float(loss)))
        if len(self._batch) >= self.popsize:
            self._step()

    def _internal_tell_not_asked(self, candidate: p.Parameter, loss: Any) -> None:
        self._internal_tell_candidate(candidate, loss)

    def _step(self) -> None:
        """One step of the mean along the rank-shaped natural-gradient estimate of the batch."""
        eps = np.stack([e for e, _ in self._batch])
        losses = np.array([loss for _, loss in self._batch])
        ranks = np.empty(len(losses))
        ranks[np.argsort(losses, kind="stable")] = np.arange(len(losses))
        utilities = ranks / max(1, len(losses) - 1) - 0.5  # the worst +0.5, the best -0.5
        gradient = 2.0 * (utilities @ eps) / len(losses)  # of the expected loss, per unit of sigma
        self.generations += 1
        self.mean = np.clip(self.mean - self.learning_rate * self.sigma * gradient, 0.0, 1.0)
        self._batch.clear()
        self._mirror.clear()  # a new generation draws new pairs around the new mean


def _reflect(x: np.ndarray) -> np.ndarray:
    """Points reflected into the unit cube (as nevergrad's "bouncing" bounds do)."""
    x = np.mod(x, 2.0)
    return np.where(x > 1.0, 2.0 - x, x)
