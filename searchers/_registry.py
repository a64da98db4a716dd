"""Every searcher by name: the one table ``meta-tune run``, ``bench``, experiment files and docs read.

An entry says how to build the searcher, whether it needs a prior, whether it reads
conditional spaces, whether it takes several objectives and which options it takes (the
fields of its config class plus a few constructor arguments), checked before anything runs.
The table itself imports nothing heavy (classes are named by import path), so the CLI can
offer its names at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from meta_tune._options import OptionSpec, check_options, dataclass_options, resolve
from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    from ray.tune.search import Searcher

    from meta_tune.priors import Prior


@dataclass(frozen=True)
class SearcherArgs:
    """What every searcher factory gets.

    Attributes:
        space: The Tune ``param_space`` (None: Tune sets it).
        metric: The metric, or the objectives' metrics as a list for an entry that takes
            several (``multi_objective``; None: Tune sets one).
        mode: ``"min"`` or ``"max"``, or one per metric of a list (None: Tune sets it).
        points_to_evaluate: Configs to run first.
        seed: Seeds the searcher.
        num_samples: The trials the run plans (None: Tune's ``num_samples``).
        prior: The fitted prior, for entries that need one.
        history: Past trials with a column per objective, for a ``multi_objective`` entry
            that needs a prior: it fits its own from them (``ParetoSearcher(history=...)``).
    """

    space: Mapping[str, Any] | None = None
    metric: str | Sequence[str] | None = None
    mode: Literal["min", "max"] | Sequence[Literal["min", "max"]] | None = None
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None
    seed: int = 0
    num_samples: int | None = None
    prior: Prior | None = None
    history: Any = None

    @property
    def metrics(self) -> list[str]:
        """The objectives' metrics (empty: Tune sets the metric)."""
        return [self.metric] if isinstance(self.metric, str) else list(self.metric or [])

    @property
    def modes(self) -> list[Literal["min", "max"]]:
        """The objectives' modes (empty: Tune sets the mode)."""
        return [self.mode] if isinstance(self.mode, str) else list(self.mode or [])

    def common(self) -> dict[str, Any]:
        """The keyword arguments every meta-tune searcher takes (the first objective's metric and mode)."""
        return {
            "space": self.space,
            "metric": next(iter(self.metrics), None),
            "mode": next(iter(self.modes), None),
            "points_to_evaluate": self.points_to_evaluate,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class SearcherEntry:
    """A searcher by name.

    Attributes:
        name: The name in ``meta-tune run --searcher``, experiment files and benchmarks.
        summary: One line for help texts and the docs.
        make: ``make(args, options)`` builds a fresh searcher from checked options.
        needs_prior: Whether it learns from a prior fitted on related tasks.
        conditional: Whether it reads conditional spaces (``tune.choice`` over dicts).
        grid_search: Whether it walks ``tune.grid_search`` axes (the others refuse them).
        multi_objective: Whether it takes several objectives (``metric=[...]``,
            ``mode=[...]``), as Ray's multi-objective searchers do (the others refuse them).
        config: Import path (``module:Class``) of the dataclass whose fields are options,
            passed as ``config=`` (None: none).
        extra_options: More options as ``name -> (type, default)``, passed as keywords (a
            type may be an import path too).
    """

    name: str
    summary: str
    make: Callable[[SearcherArgs, dict[str, Any]], Searcher]
    needs_prior: bool = False
    conditional: bool = True
    grid_search: bool = False
    multi_objective: bool = False
    config: str | None = None
    extra_options: Mapping[str, OptionSpec] = field(default_factory=dict)

    def options(self) -> dict[str, OptionSpec]:
        """Every option this searcher takes: ``name -> (type, default)``."""
        return {**(dataclass_options(resolve(self.config)) if self.config else {}), **self.extra_options}

    def check_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """The given options, types checked and converted, values checked by the config class.

        Raises:
            InvalidConfigError: An unknown option, a wrong type or a value the searcher's
                config rejects; the message names the option and lists the valid ones.
        """
        values = check_options(f"searcher {self.name!r}", self.options(), options)
        if self.config is not None:
            resolve(self.config)(**{k: v for k, v in values.items() if k not in self.extra_options})
        return values

    def check_objectives(self, count: int) -> None:
        """Raise unless this searcher can tune ``count`` objectives at once.

        Raises:
            InvalidConfigError: Several objectives for a searcher that takes one; the message
                names the searchers that take several.
        """
        if count > 1 and not self.multi_objective:
            raise InvalidConfigError(
                f"Searcher {self.name!r} tunes one metric, but {count} objectives were given: pick a "
                f"searcher that takes several ({', '.join(multi_objective_names())}), or give one metric."
            )

    def build(self, args: SearcherArgs, options: Mapping[str, Any] | None = None) -> Searcher:
        """A fresh searcher (options checked first).

        Raises:
            InvalidConfigError: Bad options, several objectives for an entry that takes one,
                or no prior for an entry that needs one.
        """
        values = self.check_options(options)
        self.check_objectives(len(args.metrics))
        if self.needs_prior and args.prior is None and (args.history is None or not self.multi_objective):
            raise InvalidConfigError(
                f"Searcher {self.name!r} learns from a prior fitted on related tasks, but none was given: "
                "fit one with meta_tune.priors.fit(...) (or pick 'random' or 'hyperopt')."
            )
        return self.make(args, values)


def _random(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._random import RandomSearch

    return RandomSearch(**args.common())  # it ignores results: the first objective is Tune's bookkeeping


def _hyperopt(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from ray.tune.search.hyperopt import HyperOptSearch

    return HyperOptSearch(
        space=dict(args.space) if args.space is not None else None,
        metric=args.common()["metric"],
        mode=args.common()["mode"],
        points_to_evaluate=[dict(p) for p in args.points_to_evaluate] if args.points_to_evaluate else None,
        random_state_seed=args.seed,
        **options,
    )


def _prior(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._prior import PriorSearcher, PriorSearcherConfig

    assert args.prior is not None
    return PriorSearcher(prior=args.prior, config=PriorSearcherConfig(**options), **args.common())


def _prior_tpe(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._prior_tpe import PriorTPESearcher, PriorTPESearcherConfig

    assert args.prior is not None
    return PriorTPESearcher(prior=args.prior, config=PriorTPESearcherConfig(**options), **args.common())


def _prior_evolution(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._prior_evolution import PriorEvolutionConfig, PriorEvolutionSearcher

    assert args.prior is not None
    optimizer = options.pop("optimizer", "cma")
    budget = options.pop("budget", args.num_samples)
    config = PriorEvolutionConfig(**options)
    return PriorEvolutionSearcher(
        prior=args.prior, optimizer=optimizer, budget=budget, config=config, **args.common()
    )


def _transfer_bo(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._transfer_bo import TransferBOConfig, TransferBOSearcher

    assert args.prior is not None
    return TransferBOSearcher(prior=args.prior, config=TransferBOConfig(**options), **args.common())


def _controller(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._controller import ControllerConfig, ControllerSearcher

    assert args.prior is not None
    return ControllerSearcher(prior=args.prior, config=ControllerConfig(**options), **args.common())


def _pareto(args: SearcherArgs, options: dict[str, Any]) -> Searcher:
    from meta_tune.searchers._pareto import ParetoSearcher, ParetoSearcherConfig

    assert args.prior is not None or args.history is not None
    common = {**args.common(), "metric": args.metric, "mode": args.mode}  # every objective
    return ParetoSearcher(
        prior=args.prior, history=args.history, config=ParetoSearcherConfig(**options), **common
    )


_ENTRIES: dict[str, SearcherEntry] = {
    e.name: e
    for e in [
        SearcherEntry(
            "random",
            "random search over the space (conditional spaces included), walking tune.grid_search axes",
            _random,
            grid_search=True,
            multi_objective=True,
        ),
        SearcherEntry(
            "hyperopt",
            "Ray's HyperOptSearch (TPE), no transfer",
            _hyperopt,
            # Its conditional spaces fail when a name repeats across branches (DuplicateLabel,
            # e.g. rbv2_xgboost's booster/colsample_bylevel): it gets the flat space.
            conditional=False,
            extra_options={"n_initial_points": (int, 20), "gamma": (float, 0.25)},
        ),
        SearcherEntry(
            "prior",
            "PriorSearcher: the prior's portfolio, then its density mixed with local and uniform search",
            _prior,
            needs_prior=True,
            config="meta_tune.searchers._prior:PriorSearcherConfig",
        ),
        SearcherEntry(
            "prior_tpe",
            "PriorTPESearcher: the portfolio, then TPE with prior samples as pseudo-observations",
            _prior_tpe,
            needs_prior=True,
            config="meta_tune.searchers._prior_tpe:PriorTPESearcherConfig",
        ),
        SearcherEntry(
            "prior_evolution",
            "PriorEvolutionSearcher: the portfolio, then CMA-ES/DE/NGOpt/GA/OpenAI-ES started at the prior",
            _prior_evolution,
            needs_prior=True,
            config="meta_tune.searchers._prior_evolution:PriorEvolutionConfig",
            extra_options={
                "optimizer": ("meta_tune.searchers._prior_evolution:EvolutionOptimizer", "cma"),
                "budget": (int | None, None),
            },
        ),
        SearcherEntry(
            "transfer_bo",
            "TransferBOSearcher: GP-BO over an ensemble of the related tasks' GPs (RGPE), cost-aware",
            _transfer_bo,
            needs_prior=True,
            config="meta_tune.searchers._transfer_bo:TransferBOConfig",
        ),
        SearcherEntry(
            "controller",
            "ControllerSearcher: a policy network pretrained on the history writes configs, REINFORCE",
            _controller,
            needs_prior=True,
            config="meta_tune.searchers._controller:ControllerConfig",
        ),
        SearcherEntry(
            "pareto",
            "ParetoSearcher: several objectives; a Pareto portfolio from the history, then MOTPE or NSGA-II",
            _pareto,
            needs_prior=True,
            multi_objective=True,
            config="meta_tune.searchers._pareto:ParetoSearcherConfig",
        ),
    ]
}


def names() -> list[str]:
    """The registered searcher names, in the registry's order."""
    return list(_ENTRIES)


def multi_objective_names() -> list[str]:
    """The searchers that take several objectives (``metric=[...]``, ``mode=[...]``)."""
    return [name for name, entry in _ENTRIES.items() if entry.multi_objective]


def get(name: str) -> SearcherEntry:
    """The entry of ``name``.

    Raises:
        InvalidConfigError: An unknown name; the message lists the valid ones.
    """
    try:
        return _ENTRIES[name]
    except KeyError:
        raise InvalidConfigError(f"Unknown searcher {name!r}; choose from {', '.join(_ENTRIES)}.") from None


def build(
    name: str,
    *,
    prior: Prior | None = None,
    space: Mapping[str, Any] | None = None,
    metric: str | Sequence[str] | None = None,
    mode: Literal["min", "max"] | Sequence[Literal["min", "max"]] | None = None,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    seed: int = 0,
    num_samples: int | None = None,
    options: Mapping[str, Any] | None = None,
    history: Any = None,
) -> Searcher:
    """A fresh searcher by name.

    Example:
        >>> from meta_tune import searchers
        >>> searcher = searchers.build("random", seed=1)
        >>> type(searcher).__name__
        'RandomSearch'

    Args:
        name: One of :func:`names`.
        prior: For entries that need one (``prior``, ``prior_tpe``, ...).
        space: The Tune ``param_space`` (None: Tune sets it).
        metric: The metric, or a list of the objectives' for a searcher of
            :func:`multi_objective_names` (None: Tune sets it).
        mode: ``"min"`` or ``"max"``, or one per metric (None: Tune sets it).
        points_to_evaluate: Configs to run first.
        seed: Seeds the searcher.
        num_samples: The trials the run plans (an evolution budget; None: Tune's).
        options: The searcher's options (``get(name).option_names()``).
        history: Past trials with a column per objective, instead of ``prior`` for a
            multi-objective searcher that needs one (``pareto``).

    Raises:
        InvalidConfigError: Unknown name or option, several objectives for a searcher that
            takes one, or no prior where one is needed.
    """
    args = SearcherArgs(space, metric, mode, points_to_evaluate, seed, num_samples, prior, history)
    return get(name).build(args, options)
