"""PriorEvolutionSearcher: CMA-ES, DE, NGOpt, a genetic algorithm or OpenAI-ES warm-started by a prior.

References:
    Nomura et al., Warm starting CMA-ES for hyperparameter optimization, AAAI 2021.
    Hansen, The CMA evolution strategy: a tutorial, arXiv:1604.00772, 2016.
    Rapin and Teytaud, Nevergrad - a gradient-free optimization platform, 2018.
    Salimans et al., Evolution strategies as a scalable alternative to reinforcement
    learning, arXiv:1703.03864, 2017 (OpenAI-ES).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior
from meta_tune.searchers._transfer import TransferConfig, TransferSearcher, check_config
from meta_tune.space import CategoricalParam

if TYPE_CHECKING:
    import nevergrad as ng

logger = logging.getLogger(__name__)

EvolutionOptimizer = Literal["cma", "de", "ngopt", "ga", "es"]
_OPTIMIZERS: tuple[str, ...] = ("cma", "de", "ngopt", "ga", "es")
#: The genetic algorithm's share of offspring made by crossover (the rest by mutation alone).
_GA_CROSSOVER = 0.5
# Proposals that decode to an already finished config are told its value and redrawn this often.
_MAX_REDRAWS = 10
# nevergrad's CMA (``_CMA.es`` in optimizerlib, 1.0.12) multiplies sigma0 by this for a fully
# bounded parametrization; ``scale`` divides it out so the first step is the prior's sigma.
_NG_BOUNDED_CMA_FACTOR = {True: 0.3, False: 0.15}  # key: dimension < 18


@dataclass(frozen=True)
class PriorEvolutionConfig(TransferConfig):
    """Settings of :class:`PriorEvolutionSearcher`.

    The portfolio and cost settings (``max_portfolio``, ``weights_every``, ``let_go``,
    ``uniform_slot``, ``cost_aware``) are :class:`TransferConfig`'s.

    Attributes:
        warm_start: Start the search distribution at the prior's good region (mean and
            per-coordinate step size); False starts it at the centre of the cube with
            ``max_sigma``, as a cold start (the portfolio is still told first).
        min_sigma: Smallest initial step size of a unit-cube coordinate, so that the search
            can still leave a region every training task agreed on.
        max_sigma: Largest initial step size (and the cold start's); at most 1/3, beyond
            which nevergrad warns that the bounds are too close.
        num_workers: Trials expected to run side by side (``ConcurrencyLimiter``); CMA's
            population is at least this large and NGOpt picks an algorithm for it.
        population: Population of ``"ga"`` and ``"es"`` (None: ``max(8, 2 * num_workers)``
            for the GA, OpenAI-ES's own rule for ES).
    """

    warm_start: bool = True
    min_sigma: float = 0.05
    max_sigma: float = 0.3
    num_workers: int = 1
    population: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.min_sigma <= self.max_sigma <= 1 / 3:
            raise InvalidConfigError(
                f"Need 0 < min_sigma <= max_sigma <= 1/3 (unit-cube step sizes); got min_sigma="
                f"{self.min_sigma}, max_sigma={self.max_sigma}"
            )
        if self.num_workers < 1:
            raise InvalidConfigError(f"num_workers must be >= 1, got {self.num_workers}")
        if self.population is not None and self.population < 2:
            raise InvalidConfigError(f"population must be >= 2 or None, got {self.population}")


class PriorEvolutionSearcher(TransferSearcher):
    """Evolutionary search (nevergrad) whose initial distribution comes from a meta-learned prior.

    The optimizer runs on the one-hot unit-cube encoding of the space (a categorical gets
    one coordinate per category, decoded by argmax, so no order is imposed on the
    categories; conditional parameters decode only where active, so every proposal is a
    valid config). Its initial mean and per-coordinate step size are those of the prior's
    good-region density (the weighted top configs of the training tasks, as in WS-CMA-ES,
    with a diagonal covariance), clipped to ``[min_sigma, max_sigma]``. The prior's
    portfolio is suggested first and its results told to the optimizer, and so are
    ``points_to_evaluate``; failed trials are told a loss worse than every finished one.

    nevergrad's NGOpt (and the recast optimizers it may pick) cannot be pickled, so the
    state holds the optimizer's ask/tell log instead: restoring rebuilds the seeded
    optimizer and replays the log, which gives back the same optimizer exactly.

    Example:
        >>> prior = meta_tune.priors.fit(history, space=param_space, metric="acc", mode="max")
        >>> searcher = PriorEvolutionSearcher(prior=prior, optimizer="cma", seed=0)
        >>> tune.Tuner(train, param_space=param_space,
        ...            tune_config=tune.TuneConfig(search_alg=searcher, metric="acc", mode="max"))

    References:
        Nomura et al., Warm starting CMA-ES for hyperparameter optimization, AAAI 2021.
    """

    _follows_weights = False  # its own strategy does not read the prior's task weights

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        *,
        prior: Prior | None = None,
        history: Any = None,
        optimizer: EvolutionOptimizer = "cma",
        budget: int | None = None,
        metric: str | None = None,
        mode: Literal["min", "max"] | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        seed: int = 0,
        config: PriorEvolutionConfig | None = None,
    ) -> None:
        """Build the searcher; the optimizer itself is built once the space is known.

        Args:
            space: The Tune ``param_space`` (else set by Tune).
            prior: The prior fitted for this space (:func:`meta_tune.priors.fit`).
            history: Or past trials to fit the prior on at the first suggestion; with
                neither, the optimizer starts from the middle of the space.
            optimizer: ``"cma"`` (CMA-ES), ``"de"`` (differential evolution), ``"ngopt"``
                (nevergrad's algorithm selector, which needs a budget), ``"ga"`` (a genetic
                algorithm: nevergrad's evolution strategy with truncation selection over
                parents and offspring, arithmetic crossover and Gaussian mutation) or
                ``"es"`` (OpenAI-ES: mirrored sampling, rank-shaped natural gradient).
            budget: Trials the optimizer plans for (default: Tune's ``num_samples``).
            metric: The metric (else set by Tune).
            mode: ``"min"`` or ``"max"`` (else set by Tune).
            points_to_evaluate: Configs to run first (and tell the optimizer).
            seed: Seeds the optimizer's random state.
            config: Portfolio size, warm start and step-size settings.

        Raises:
            InvalidConfigError: Not a prior, an unknown optimizer or a budget below 1.
        """
        check_config(config, PriorEvolutionConfig)
        if optimizer not in _OPTIMIZERS:
            raise InvalidConfigError(f"optimizer must be one of {list(_OPTIMIZERS)}, got {optimizer!r}")
        if budget is not None and budget < 1:
            raise InvalidConfigError(f"budget must be >= 1 or None, got {budget}")
        self._optimizer_name: str = optimizer
        self._budget = budget
        self._config: PriorEvolutionConfig
        self._opt: ng.optimizers.base.Optimizer | None = None
        self._candidates: list[Any] = []  # nevergrad candidates, in the order they were asked
        self._events: list[tuple[Any, ...]] = []  # the ask/tell log that rebuilds the optimizer
        self._handles: dict[str, int] = {}  # live trial -> index into _candidates
        self._pending: int | None = None
        super().__init__(
            space,
            prior=prior,
            history=history,
            config=config or PriorEvolutionConfig(),
            metric=metric,
            mode=mode,
            points_to_evaluate=points_to_evaluate,
            seed=seed,
        )

    # ------------------------------------------------------------------ Ray protocol
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next config: ``points_to_evaluate``, the portfolio, then the optimizer's."""
        self._pending = None
        config = super().suggest(trial_id)
        if config is not None and trial_id in self._live:
            if self._pending is None:  # a point of points_to_evaluate, served by the base class
                self._pending = self._apply(("inject", self._unit(config)))
            self._handles[trial_id] = self._pending
            self._pending = None
        return config

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record the observation and tell the optimizer its loss (failures: a large one)."""
        count = len(self._observations)
        super().on_trial_complete(trial_id, result, error)
        if len(self._observations) > count and trial_id in self._handles:
            self._apply(("tell", self._handles.pop(trial_id), self._loss(self._observations[-1].value)))

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`get_state` output: rebuild the optimizer and replay its log."""
        extra = state.get("extra") or {}
        if state.get("class") == type(self).__name__ and "optimizer" in extra:
            self._optimizer_name, self._budget = extra["optimizer"], extra["budget"]
        super().set_state(state)

    # ------------------------------------------------------------------ hooks
    _without_prior = "the evolution strategy from the middle of the space"

    def _on_space(self) -> None:
        super()._on_space()
        self._build()

    def _on_served_point(self, point: dict[str, Any]) -> None:
        self._pending = self._apply(("inject", self._unit(point)))

    def _continue(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for _ in range(_MAX_REDRAWS):
            index = self._apply(("ask",))
            config = self._config_of(index)
            same = [o for o in self._observations if o.config == config]
            if not same:
                break
            # Small discrete spaces: tell the optimizer what this config gave and redraw.
            self._apply(("tell", index, self._loss(same[-1].value)))
        self._pending = index
        return config

    def _extra_state(self) -> dict[str, Any]:
        return {
            **super()._extra_state(),
            "optimizer": self._optimizer_name,
            "budget": self._effective_budget(),
            "events": list(self._events),
            "handles": dict(self._handles),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        self._build()  # _on_space built one already; the saved budget may differ
        for event in state["events"]:
            self._apply(tuple(event))
        self._handles = dict(state["handles"])
        logger.debug("Rebuilt the %s optimizer from %d events", self._optimizer_name, len(self._events))

    # ------------------------------------------------------------------ the optimizer
    def _effective_budget(self) -> int | None:
        return self._budget if self._budget is not None else self._num_samples

    def _build(self) -> None:
        """A fresh seeded optimizer with the prior's initial distribution and an empty log."""
        import nevergrad as ng

        mean, sigma = self._start()
        dim = len(mean)
        param = (
            ng.p.Array(init=mean)
            .set_mutation(sigma=sigma)
            .set_bounds(0.0, 1.0, method="bouncing", full_range_sampling=False)
        )
        param.random_state = np.random.RandomState(np.random.MT19937(self._seed))
        budget, workers = self._effective_budget(), self._config.num_workers
        if self._optimizer_name == "cma":
            scale = 1.0 / _NG_BOUNDED_CMA_FACTOR[dim < 18]
            family = ng.optimizers.ParametrizedCMA(scale=scale, random_init=False)
            self._opt = family(param, budget=budget, num_workers=workers)
        elif self._optimizer_name == "de":
            self._opt = ng.optimizers.DE(param, budget=budget, num_workers=workers)
        elif self._optimizer_name == "ga":
            size = self._config.population or max(8, 2 * workers)
            family = ng.families.EvolutionStrategy(
                recombination_ratio=_GA_CROSSOVER, popsize=size, offsprings=size, ranker="simple"
            )
            with warnings.catch_warnings():  # "ES algorithms are inefficient with budget < 60"
                warnings.simplefilter("ignore", ng.errors.InefficientSettingsWarning)
                self._opt = family(param, budget=budget, num_workers=workers)
        elif self._optimizer_name == "es":
            from meta_tune.searchers._openai_es import OpenAIES

            self._opt = OpenAIES(param, budget=budget, num_workers=workers, popsize=self._config.population)
        else:
            if budget is None:
                raise InvalidConfigError(
                    "optimizer='ngopt' needs a budget: pass budget= to PriorEvolutionSearcher, or let Tune "
                    "set it from TuneConfig(num_samples=...)."
                )
            # num_workers >= 2 keeps NGOpt off the sequential recast optimizers (Cobyla, ...),
            # which block when asked twice before a tell and cannot take injected points.
            self._opt = ng.optimizers.NGOpt(param, budget=budget, num_workers=max(2, workers))
        self._candidates, self._events, self._handles = [], [], {}

    def _apply(self, event: tuple[Any, ...]) -> int:
        """Run one ask/tell event on the optimizer and log it; returns the candidate's index.

        Events: ``("ask",)``; ``("inject", unit)``, a point the optimizer did not propose,
        passed through ``optimizer.suggest`` and asked, so that its tell is a proper one (for
        CMA it replaces one sample of the current generation, as pycma's own injection does);
        ``("tell", index, loss)``.
        """
        assert self._opt is not None
        if event[0] == "tell":
            self._opt.tell(self._candidates[event[1]], float(event[2]))
            index = int(event[1])
        else:
            if event[0] == "inject":
                if self._optimizer_name == "cma":
                    # pycma takes one tell per generation it was asked for and nevergrad drops
                    # the others silently, so an injected point takes the place of one sample.
                    self._opt.ask()
                self._opt.suggest(np.asarray(event[1], dtype=float))
            self._candidates.append(self._opt.ask())
            index = len(self._candidates) - 1
        self._events.append(event)
        return index

    def _unit(self, config: Mapping[str, Any]) -> list[float]:
        unit = self.space.encode(config, "onehot")
        return [*map(float, unit), *([0.5] if len(unit) == 1 else [])]

    def _config_of(self, index: int) -> dict[str, Any]:
        value = np.asarray(self._candidates[index].value, dtype=float)
        return self.space.decode(value[: self.space.dim("onehot")], "onehot")

    def _loss(self, value: float | None) -> float:
        """The loss told for an observation; a failed one is worse than every finished one."""
        if value is not None:
            return value
        finite = [o.value for o in self._observations if o.value is not None]
        if not finite:
            return 1e6
        return max(finite) + max(1.0, max(finite) - min(finite))

    def _start(self) -> tuple[np.ndarray, np.ndarray]:
        """Initial mean and per-coordinate step size in the one-hot cube (padded to >= 2 dims).

        Warm start (Nomura et al. 2021, diagonal): the weighted mean of the prior density's
        components, and the standard deviation of the mixture (spread of the centres plus
        the kernel width; categories mixed with the prior's category noise).
        """
        dim, cfg = self.space.dim("onehot"), self._config
        mean, sigma = np.full(dim, 0.5), np.full(dim, cfg.max_sigma)
        if cfg.warm_start and self._prior is not None:
            density = self._prior.density()
            centres = self.space.encode_many(
                self._prior.space.decode_many(density.centers, "ordinal"), "onehot"
            )
            ordinal, onehot = self.space.slices("ordinal"), self.space.slices("onehot")
            for param in self.space.params:
                so, sh = ordinal[param.name], onehot[param.name]
                w = density.weights * density.known[:, so.start]
                if w.sum() <= 0:
                    continue  # the history never held it: uniform start
                w = w / w.sum()
                x = centres[:, sh]
                if isinstance(param, CategoricalParam):
                    noise = density.category_noise
                    p = (1 - noise) * (w @ x) + noise / param.n
                    mean[sh], sigma[sh] = p, np.sqrt(p * (1 - p))
                else:
                    m = w @ x
                    mean[sh] = m
                    sigma[sh] = np.sqrt(w @ (x - m) ** 2 + density.bandwidth[so.start] ** 2)
            sigma = np.clip(sigma, cfg.min_sigma, cfg.max_sigma)
            logger.debug("Warm start: mean %s, sigma %s", mean.round(3), sigma.round(3))
        if dim == 1:  # nevergrad's CMA needs the fcmaes package in one dimension: pad
            mean, sigma = np.append(mean, 0.5), np.append(sigma, cfg.max_sigma)
        return np.clip(mean, 0.0, 1.0), sigma
