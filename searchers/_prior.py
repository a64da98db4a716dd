"""PriorSearcher: a portfolio first, then the prior's density, local and uniform search.

The prior's share decays as the task's own evidence grows.

References:
    Hvarfner et al., piBO: Augmenting acquisition functions with user beliefs, ICLR 2022.
    Mallik et al., PriorBand: Practical hyperparameter optimization in the age of deep
    learning, NeurIPS 2023 (its sampling policy over prior, incumbent and uniform).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.priors import MixtureDensity, Prior, TaskWeights
from meta_tune.searchers._base import MetaSearcher, Observation
from meta_tune.space import CategoricalParam, SearchSpace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriorSearcherConfig:
    """Settings of :class:`PriorSearcher`.

    Attributes:
        max_portfolio: Portfolio configs to evaluate first (None: all of them, but at most a
            quarter of Tune's ``num_samples`` when it is known).
        prior_decay: After ``n`` own observations, a suggestion comes from the prior's density
            with probability ``(1 - w_none) * prior_decay / (prior_decay + n)``, where
            ``w_none`` is the "no transfer" share of the task weights.
        local_share: Share of the other suggestions that mutate the incumbent (the rest are
            uniform).
        local_scale: Initial standard deviation of a mutation in the unit cube; it shrinks
            like the prior's share, down to ``min_local_scale``.
        min_local_scale: Smallest mutation standard deviation.
        weights_every: Recompute the task weights after every this many observations.
    """

    max_portfolio: int | None = None
    prior_decay: float = 10.0
    local_share: float = 0.7
    local_scale: float = 0.15
    min_local_scale: float = 0.02
    weights_every: int = 5

    def __post_init__(self) -> None:
        if self.max_portfolio is not None and self.max_portfolio < 0:
            raise InvalidConfigError(f"max_portfolio must be >= 0 or None, got {self.max_portfolio}")
        if self.prior_decay <= 0 or not 0 <= self.local_share <= 1 or self.weights_every < 1:
            raise InvalidConfigError(
                f"Need prior_decay > 0, 0 <= local_share <= 1 and weights_every >= 1; got {self}"
            )
        if not 0 < self.min_local_scale <= self.local_scale:
            raise InvalidConfigError(f"Need 0 < min_local_scale <= local_scale; got {self}")


class PriorSearcher(MetaSearcher):
    """A Ray Tune searcher that starts where related tasks were good and then searches locally.

    Suggestions come, in order, from ``points_to_evaluate``, the prior's zero-shot
    portfolio, and then a mix of the prior's density, mutations of the incumbent and
    uniform samples. The prior's share decays with the number of own observations and with
    the evidence that the training tasks rank this task's results no better than chance
    (``Prior.task_weights``), so an unrelated history loses its say.

    Wrap it in ``ConcurrencyLimiter`` (or set ``TuneConfig(max_concurrent_trials=N)``) to
    run trials in parallel; like every custom Tune searcher it runs one at a time otherwise.

    Example:
        >>> prior = meta_tune.priors.fit(history, space=param_space, metric="acc", mode="max")
        >>> searcher = PriorSearcher(prior=prior, metric="acc", mode="max", seed=0)
        >>> tune.Tuner(train, param_space=param_space,
        ...            tune_config=tune.TuneConfig(search_alg=searcher, max_concurrent_trials=4))

    References:
        Hvarfner et al., piBO, ICLR 2022; Mallik et al., PriorBand, NeurIPS 2023.
    """

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        *,
        prior: Prior,
        metric: str | None = None,
        mode: Literal["min", "max"] | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        seed: int = 0,
        config: PriorSearcherConfig | None = None,
    ) -> None:
        check_prior(prior, metric)
        self._prior = prior
        self._config = config or PriorSearcherConfig()
        self._portfolio: list[dict[str, Any]] = []
        self._weights = TaskWeights(tasks=prior.task_weights().tasks, none=0.0)
        self._density: MixtureDensity | None = None
        super().__init__(space, metric=metric, mode=mode, points_to_evaluate=points_to_evaluate, seed=seed)

    # ------------------------------------------------------------------ hooks
    def _on_space(self) -> None:
        self._portfolio = portfolio_in_space(
            self._prior, self.space, max_portfolio=self._config.max_portfolio, num_samples=self._num_samples
        )
        self._density = self._prior.density(self._weights)

    def _propose(self) -> dict[str, Any]:
        while self._portfolio:
            point = self._portfolio.pop(0)
            if not self._seen(point):
                return point
        done = [o for o in self._observations if o.value is not None]
        n, cfg = len(done), self._config
        shrink = cfg.prior_decay / (cfg.prior_decay + n)
        p_prior = (1.0 - self._weights.none) * shrink
        incumbent = self.incumbent()
        config: dict[str, Any] = {}
        for _ in range(20):  # resample a config that was already tried (small discrete spaces)
            if self._rng.random() < p_prior:
                assert self._density is not None
                unit = self._density.sample(1, self._rng)[0]
            elif incumbent is not None and self._rng.random() < cfg.local_share:
                scale = max(cfg.min_local_scale, cfg.local_scale * shrink)
                unit = self._mutate(self.space.encode(incumbent.config, "ordinal"), scale)
            else:
                unit = self._rng.random(self.space.dim("ordinal"))
            config = self.space.decode(unit, "ordinal")
            if not self._seen(config):
                break
        return config

    def _observe(self, observation: Observation) -> None:
        every = self._config.weights_every
        weights = updated_task_weights(self._prior, self._observations, observation, every)
        if weights is not None:
            self._weights = weights
            self._density = self._prior.density(weights)

    def _mutate(self, unit: np.ndarray, scale: float) -> np.ndarray:
        out = unit + self._rng.normal(0.0, scale, size=unit.shape)
        out = np.abs(out)  # reflect at 0 and at 1
        out = np.where(out > 1.0, 2.0 - out, out).clip(0.0, 1.0)
        redraw_p = max(0.1, 1.0 / max(1, len(unit)))
        for d, param in enumerate(self.space.params):
            if isinstance(param, CategoricalParam):
                out[d] = self._rng.random() if self._rng.random() < redraw_p else unit[d]
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {"portfolio": self._portfolio, "weights": (self._weights.tasks.tolist(), self._weights.none)}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._portfolio = state["portfolio"]
        tasks, none = state["weights"]
        self._weights = TaskWeights(tasks=np.asarray(tasks), none=none)
        self._density = self._prior.density(self._weights)


def portfolio_in_space(
    prior: Prior, space: SearchSpace, *, max_portfolio: int | None, num_samples: int | None
) -> list[dict[str, Any]]:
    """The configs of the prior's portfolio a searcher serves first, mapped into ``space``.

    Args:
        prior: The fitted prior.
        space: The searcher's space (same parameters as the prior's; constants may differ).
        max_portfolio: Serve at most this many; None: a quarter of ``num_samples`` (all of
            the portfolio when the budget is unknown).
        num_samples: The run's trial budget, if Tune told it.

    Raises:
        IncompatibleSearchSpaceError: The prior was fitted on other parameters.
    """
    _check_compatible(prior.space, space)
    size = len(prior.portfolio)
    if max_portfolio is not None:
        size = min(size, max_portfolio)
    elif num_samples:
        size = min(size, max(1, num_samples // 4))
    if not size:
        return []
    return space.decode_many(prior.space.encode_many(prior.portfolio[:size], "ordinal"), "ordinal")


def check_prior(prior: object, metric: str | None) -> None:
    """Check a prior searcher's ``prior``; warn when it was fitted on another metric than ``metric``.

    Raises:
        InvalidConfigError: ``prior`` is not a fitted :class:`~meta_tune.priors.Prior`.
    """
    if not isinstance(prior, Prior):
        raise InvalidConfigError(
            f"prior must be a meta_tune.priors.Prior, got {type(prior).__name__}; fit one with "
            "meta_tune.priors.fit(history, space=..., metric=..., mode=...)."
        )
    if metric is not None and metric != prior.metric:
        logger.warning(
            "The prior was fitted on metric %r and this searcher optimizes %r.", prior.metric, metric
        )


def updated_task_weights(
    prior: Prior, observations: Sequence[Observation], latest: Observation, every: int
) -> TaskWeights | None:
    """The prior's task weights re-fitted to the target's observations, every ``every`` results.

    Args:
        prior: The fitted prior.
        observations: The target task's observations so far (``latest`` included).
        latest: The observation just made.
        every: Re-fit after every this many finished observations.

    Returns:
        The new weights, or None when no re-fit is due (``latest`` failed, or the count of
        finished observations is not a multiple of ``every``).
    """
    done = [o for o in observations if o.value is not None]
    if latest.value is None or len(done) % every:
        return None
    sign = 1.0 if prior.mode == "min" else -1.0
    values = [sign * o.value for o in done if o.value is not None]
    weights = prior.task_weights([o.config for o in done], values)
    logger.debug("Task weights after %d observations: no-transfer share %.2f", len(done), weights.none)
    return weights


def _check_compatible(prior_space: SearchSpace, space: SearchSpace) -> None:
    """The prior must be fitted on the same parameters (constants may differ)."""
    ours = {p["name"]: p for p in space.to_dict()["params"]}
    theirs = {p["name"]: p for p in prior_space.to_dict()["params"]}
    if ours == theirs:
        return
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    differ = sorted(n for n in set(ours) & set(theirs) if ours[n] != theirs[n])
    raise IncompatibleSearchSpaceError(
        f"The prior was fitted for another search space: parameters missing from the prior {missing}, "
        f"parameters only in the prior {extra}, parameters with other domains {differ}. Fit it for this "
        "space: meta_tune.priors.fit(history, space=<the Tuner's param_space>, ...)."
    )
