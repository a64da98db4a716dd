"""The methods a benchmark compares, by name: meta-tune's searchers and their peers.

Each method is a factory from a :class:`MethodContext` (the run's space, seed, budget, the
meta-train history and the prior fitted on it) to a fresh Ray ``Searcher``, plus the form of
the search space it takes (some peers cannot read conditional spaces).

Every searcher of meta-tune's registry (``meta_tune.searchers.names()``: random, hyperopt and
the prior searchers) is a method under its registry name, so a benchmark row and a
``meta-tune run --searcher`` mean the same searcher. Benchmark-only peers are added on top:
Optuna TPE, Nevergrad CMA-ES and NGOpt, Syne Tune's transfer-learning methods (zero-shot,
bounding box, quantile-based CTS; see :mod:`meta_tune.bench._syne`), which learn from the same
history as meta-tune's prior, the ``portfolio+random`` ablation, and the ``controller``'s
two ablations (``controller_uniform``: no prior, a uniform start; ``controller_no_portfolio``:
the pretrained policy from the first trial).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meta_tune import searchers
from meta_tune._imports import require
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    import pandas as pd
    from ray.tune.search import Searcher

    from meta_tune.bench._scenario import Scenario
    from meta_tune.bench._syne import SyneMethod
    from meta_tune.priors import Prior
    from meta_tune.searchers._prior_evolution import EvolutionOptimizer


@dataclass(frozen=True)
class MethodContext:
    """What a method factory may use.

    Attributes:
        param_space: The scenario's Tune space (conditional where the scenario has conditions).
        flat_space: The same parameters without conditions (for peers that need it).
        seed: The run's derived seed.
        num_trials: The run's trial budget.
        prior: Fitted on the meta-train tasks' history (None for methods that do not transfer).
        history: The meta-train history the prior was fitted on (see :func:`random_history`;
            None for methods that do not transfer). Peers that learn from raw data use it.
    """

    param_space: Mapping[str, Any]
    flat_space: Mapping[str, Any]
    seed: int
    num_trials: int
    prior: Prior | None
    history: pd.DataFrame | None = None


@dataclass(frozen=True)
class Method:
    """A named way to build a searcher.

    Attributes:
        name: The name used on the command line and in tables.
        build: Factory of a fresh searcher.
        flat: Whether the method gets ``flat_space`` instead of ``param_space``.
        transfer: Whether the method needs the meta-train prior.
    """

    name: str
    build: Callable[[MethodContext], Searcher]
    flat: bool = False
    transfer: bool = False

    def space(self, context: MethodContext) -> Mapping[str, Any]:
        """The search space this method runs on."""
        return context.flat_space if self.flat else context.param_space


def _registered(name: str) -> Method:
    """A searcher of meta-tune's registry (``meta_tune.searchers.names()``) as a benchmark method."""
    entry = searchers.get(name)

    def build(context: MethodContext) -> Searcher:
        args = searchers.SearcherArgs(seed=context.seed, num_samples=context.num_trials, prior=context.prior)
        return entry.build(args)

    return Method(name, build, flat=not entry.conditional, transfer=entry.needs_prior)


def _portfolio_random(context: MethodContext) -> Searcher:
    from meta_tune.searchers import PriorSearcher, PriorSearcherConfig

    assert context.prior is not None
    # prior_decay -> 0 and no local search: after the portfolio, plain uniform sampling.
    config = PriorSearcherConfig(
        max_portfolio=len(context.prior.portfolio), prior_decay=1e-9, local_share=0.0
    )
    return PriorSearcher(prior=context.prior, seed=context.seed, config=config)


def _controller_uniform(context: MethodContext) -> Searcher:
    from meta_tune.searchers import ControllerSearcher

    # The registry's controller without its meta-learned start: a uniform policy, no portfolio.
    return ControllerSearcher(seed=context.seed)


def _controller_no_portfolio(context: MethodContext) -> Searcher:
    from meta_tune.searchers import ControllerConfig, ControllerSearcher

    # The pretrained policy from the first trial on: the registry's controller less its portfolio.
    config = ControllerConfig(max_portfolio=0)
    return ControllerSearcher(prior=context.prior, seed=context.seed, config=config)


def _evolution(optimizer: EvolutionOptimizer, *, with_prior: bool) -> Callable[[MethodContext], Searcher]:
    def build(context: MethodContext) -> Searcher:
        from meta_tune.searchers import PriorEvolutionSearcher

        # The registry's prior_evolution with a GA or OpenAI-ES, with its prior or (a cold start,
        # no portfolio) without one.
        return PriorEvolutionSearcher(
            prior=context.prior if with_prior else None,
            optimizer=optimizer,
            budget=context.num_trials,
            seed=context.seed,
        )

    return build


def _optuna(context: MethodContext) -> Searcher:
    from ray.tune.search.optuna import OptunaSearch

    optuna = require("optuna", extra="bench")
    # Optuna logs every new study at INFO: hundreds of lines in a benchmark.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=context.seed))


def _nevergrad(optimizer: str) -> Callable[[MethodContext], Searcher]:
    def build(context: MethodContext) -> Searcher:
        from meta_tune.bench._nevergrad import SeededNevergradSearch

        return SeededNevergradSearch(optimizer=optimizer, seed=context.seed, budget=context.num_trials)

    return build


def _syne(method: SyneMethod) -> Callable[[MethodContext], Searcher]:
    def build(context: MethodContext) -> Searcher:
        from meta_tune.bench._syne import SyneTuneSearcher

        if context.history is None:
            raise InvalidConfigError(
                f"Method {method!r} learns from the meta-train history, but the MethodContext has none; "
                "pass history= (run_benchmark does for every transfer method)."
            )
        return SyneTuneSearcher(method=method, history=context.history, seed=context.seed)

    return build


#: Benchmark-only peers and ablations, on top of the searcher registry.
_PEERS = [
    Method("optuna", _optuna, flat=True),
    Method("cma", _nevergrad("CMA"), flat=True),
    Method("ngopt", _nevergrad("NGOpt"), flat=True),
    Method("zero_shot", _syne("zero_shot"), flat=True, transfer=True),
    Method("bounding_box", _syne("bounding_box"), flat=True, transfer=True),
    Method("quantile", _syne("quantile"), flat=True, transfer=True),
    Method("portfolio+random", _portfolio_random, transfer=True),
    Method("prior_ga", _evolution("ga", with_prior=True), transfer=True),
    Method("prior_es", _evolution("es", with_prior=True), transfer=True),
    Method("ga", _evolution("ga", with_prior=False)),
    Method("es", _evolution("es", with_prior=False)),
    Method("controller_uniform", _controller_uniform),
    Method("controller_no_portfolio", _controller_no_portfolio, transfer=True),
]

#: Every method a benchmark runs: meta-tune's searchers by their registry names, then the peers.
METHODS: dict[str, Method] = {m.name: m for m in [*map(_registered, searchers.names()), *_PEERS]}


def get_methods(names: str | list[str]) -> list[Method]:
    """Look up methods by name (a comma-separated string or a list).

    Raises:
        InvalidConfigError: An unknown name; the message lists the known ones.
    """
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    unknown = [n for n in wanted if n not in METHODS]
    if unknown or not wanted:
        raise InvalidConfigError(
            f"Unknown benchmark methods {unknown or wanted}; choose from {sorted(METHODS)}."
        )
    return [METHODS[n] for n in wanted]


def random_history(scenario: Scenario, tasks: Sequence[str], *, n_per_task: int, seed: int) -> pd.DataFrame:
    """The meta-train data every transfer method learns from: random configs on each task.

    Args:
        scenario: The YAHPO scenario whose surrogate evaluates the configs.
        tasks: Task ids (usually the meta-train split, ``meta_split(scenario).train``).
        n_per_task: Random configs drawn on each task.
        seed: The same seed gives the same configs.

    Returns:
        A history DataFrame for :func:`meta_tune.priors.fit`: ``task``, one column per
        flattened parameter, every metric of the scenario (``runtime`` among them).
    """
    import pandas as pd

    from meta_tune.space import SearchSpace

    space = SearchSpace.from_tune(scenario.param_space())
    frames = []
    for i, task in enumerate(tasks):
        configs = space.sample(np.random.default_rng([seed, i]), n_per_task)
        results = scenario.evaluate(task, configs)
        rows = [{"task": task, **space.flatten(c), **r} for c, r in zip(configs, results)]
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True)
