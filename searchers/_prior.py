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

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import MixtureDensity, Prior, TaskWeights
from meta_tune.searchers._transfer import TransferConfig, TransferSearcher, check_config
from meta_tune.space import CategoricalParam

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriorSearcherConfig(TransferConfig):
    """Settings of :class:`PriorSearcher`.

    The portfolio and cost settings (``max_portfolio``, ``weights_every``, ``let_go``,
    ``uniform_slot``, ``cost_aware``) are :class:`TransferConfig`'s.

    Attributes:
        prior_decay: After ``n`` own observations, a suggestion comes from the prior's density
            with probability ``(1 - w_none) * prior_decay / (prior_decay + n)``, where
            ``w_none`` is the "no transfer" share of the task weights.
        local_share: Share of the other suggestions that mutate the incumbent (the rest are
            uniform).
        local_scale: Initial standard deviation of a mutation in the unit cube; it shrinks
            like the prior's share, down to ``min_local_scale``.
        min_local_scale: Smallest mutation standard deviation.
        cost_candidates: Draws a cost-tilted suggestion chooses from.
    """

    prior_decay: float = 10.0
    local_share: float = 0.7
    local_scale: float = 0.15
    min_local_scale: float = 0.02
    cost_candidates: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.prior_decay <= 0 or not 0 <= self.local_share <= 1:
            raise InvalidConfigError(f"Need prior_decay > 0 and 0 <= local_share <= 1; got {self}")
        if not 0 < self.min_local_scale <= self.local_scale:
            raise InvalidConfigError(f"Need 0 < min_local_scale <= local_scale; got {self}")
        if self.cost_candidates < 1:
            raise InvalidConfigError(f"cost_candidates must be >= 1, got {self.cost_candidates}")


class PriorSearcher(TransferSearcher):
    """A Ray Tune searcher that starts where related tasks were good and then searches locally.

    Suggestions come, in order, from ``points_to_evaluate``, the prior's zero-shot
    portfolio (per second when the history has runtimes; dropped once the training tasks
    rank this task's results no better than chance), and then a mix of the prior's
    density, mutations of the incumbent and uniform samples. The prior's share decays with
    the number of own observations and with the evidence that the training tasks rank this
    task's results no better than chance (``Prior.task_weights``), so an unrelated history
    loses its say. Early in the budget, draws from the density and uniform draws lean
    towards configs the prior expects to be cheap (``PriorSearcherConfig.cost_aware``).

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
        prior: Prior | None = None,
        history: Any = None,
        metric: str | None = None,
        mode: Literal["min", "max"] | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        seed: int = 0,
        config: PriorSearcherConfig | None = None,
    ) -> None:
        check_config(config, PriorSearcherConfig)
        self._config: PriorSearcherConfig
        self._density: MixtureDensity | None = None
        super().__init__(
            space,
            prior=prior,
            history=history,
            config=config or PriorSearcherConfig(),
            metric=metric,
            mode=mode,
            points_to_evaluate=points_to_evaluate,
            seed=seed,
        )

    # ------------------------------------------------------------------ hooks
    _without_prior = "local search around the incumbent and uniform sampling"

    def _on_space(self) -> None:
        super()._on_space()
        self._density = None if self._prior is None else self._prior.density(self._weights)

    def _continue(self) -> dict[str, Any]:
        done = [o for o in self._observations if o.value is not None]
        n, cfg = len(done), self._config
        shrink = cfg.prior_decay / (cfg.prior_decay + n)
        p_prior = (1.0 - self._weights.none) * shrink
        incumbent = self.incumbent()
        draws = cfg.cost_candidates if self._cost_exponent() > 0 else 1
        config: dict[str, Any] = {}
        for _ in range(20):  # resample a config that was already tried (small discrete spaces)
            if self._rng.random() < p_prior:
                assert self._density is not None
                unit = self._cheap(self._density.sample(draws, self._rng))
            elif incumbent is not None and self._rng.random() < cfg.local_share:
                scale = max(cfg.min_local_scale, cfg.local_scale * shrink)
                unit = self._mutate(self.space.encode(incumbent.config, "ordinal"), scale)
            else:
                unit = self._cheap(self._rng.random((draws, self.space.dim("ordinal"))))
            config = self.space.decode(unit, "ordinal")
            if not self._seen(config):
                break
        return config

    def _on_weights(self, weights: TaskWeights) -> None:
        assert self._prior is not None
        self._density = self._prior.density(weights)

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        self._density = None if self._prior is None else self._prior.density(self._weights)

    def _cheap(self, unit: np.ndarray) -> np.ndarray:
        """One of the drawn rows, cheap ones more likely early in the budget."""
        return np.asarray(unit[self._cost_tilted_choice(unit)])

    def _mutate(self, unit: np.ndarray, scale: float) -> np.ndarray:
        out = unit + self._rng.normal(0.0, scale, size=unit.shape)
        out = np.abs(out)  # reflect at 0 and at 1
        out = np.where(out > 1.0, 2.0 - out, out).clip(0.0, 1.0)
        redraw_p = max(0.1, 1.0 / max(1, len(unit)))
        for d, param in enumerate(self.space.params):
            if isinstance(param, CategoricalParam):
                out[d] = self._rng.random() if self._rng.random() < redraw_p else unit[d]
        return out
