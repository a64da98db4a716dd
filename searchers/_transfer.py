"""What every prior searcher shares: the prior's portfolio, served first and let go, and its cost model.

A :class:`TransferSearcher` serves ``points_to_evaluate``, then the prior's portfolio (chosen
per second when the history has runtimes, see ``PriorConfig.portfolio_objective``), then
its own strategy (:meth:`TransferSearcher._continue`). After each finished trial it decides
whether the rest of the portfolio is still the best use of the next trials: it lets go once
the task-similarity ranking (``Prior.task_weights``, refitted at every finished trial while
the portfolio is served) gives "no transfer" the majority, and a model-based strategy may
take over earlier (:meth:`TransferSearcher._portfolio_open`). It also turns the prior's cost
model into relative costs of candidate configs, with the cost exponent cooled from 1 to 0
over the trial budget, as CArBO does, so that a strategy can prefer cheap configs early
and stops preferring them once the budget is mostly spent.

References:
    Lee et al., Cost-aware Bayesian optimization, arXiv:2003.10870, 2020 (CArBO).
    Feurer et al., Practical transfer learning for Bayesian optimization, 2018 (RGPE ranking).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from meta_tune.errors import EmptyHistoryError, IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.priors import Prior, TaskWeights
from meta_tune.searchers._base import MetaSearcher, Observation
from meta_tune.space import SearchSpace

logger = logging.getLogger(__name__)

#: Finished target trials before the ranking can tell related tasks from unrelated ones.
MIN_RANKED = 3
#: A strategy that does not read the task weights refits them for the let-go rule only up to
#: this many finished trials (the ranking costs grow with the square of the trials).
LET_GO_HORIZON = 20
#: Uniform draws a cost-aware uniform sample is chosen from.
UNIFORM_DRAWS = 8
#: The cost exponent cools to 0 over this many finished trials when Tune's budget is unknown.
DEFAULT_COOLING_TRIALS = 100


@dataclass(frozen=True)
class TransferConfig:
    """The portfolio and cost settings every prior searcher's config has (and validates here).

    Attributes:
        max_portfolio: Portfolio configs to evaluate first (None: all of them, but at most a
            quarter of Tune's ``num_samples`` when it is known).
        weights_every: Recompute the task weights after every this many observations (at
            every one while the portfolio is served).
        let_go: Drop the rest of the portfolio once the task weights give "no transfer"
            the majority (from the third finished trial on).
        uniform_slot: Serve a uniform sample as this suggestion (0-based) while the
            portfolio is served, so that the task ranking has a config the history did not
            pick to judge the history by (None: never). TransferBOSearcher serves slot 1 by
            default: on rbv2_rpart with a negated history its regret after 10 and 50 median
            runtimes fell from 0.41 and 0.12 to 0.30 and 0.05, and with true histories it
            moved within noise; for PriorSearcher it cost a little on a true history and did
            not help on a negated one (docs/benchmarks.md), so the others serve none.
        cost_aware: Let the prior's cost model steer choices early in the budget (the cost's
            exponent is cooled from 1 to 0 over it): PriorSearcher's draws, TransferBO's
            expected improvement per second, the uniform slot's sample. The portfolio is
            chosen per second by the prior whatever this says; no effect when the history
            has no runtimes.
    """

    max_portfolio: int | None = None
    weights_every: int = 5
    let_go: bool = True
    uniform_slot: int | None = None
    cost_aware: bool = True

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.max_portfolio is not None and self.max_portfolio < 0:
            raise InvalidConfigError(f"{name}.max_portfolio must be >= 0 or None, got {self.max_portfolio}")
        if self.weights_every < 1:
            raise InvalidConfigError(f"{name}.weights_every must be >= 1, got {self.weights_every}")
        if self.uniform_slot is not None and self.uniform_slot < 0:
            raise InvalidConfigError(
                f"{name}.uniform_slot must be a suggestion index >= 0 or None, got {self.uniform_slot}"
            )


class TransferSearcher(MetaSearcher):
    """Base class of the prior searchers (see the module docstring).

    **Where the prior comes from**: ``prior=`` a fitted prior; or ``history=`` past trials
    (what ``meta_tune.priors.fit`` reads: ``Store().history(family=...)``, a DataFrame, a
    Tune experiment folder), fitted at the first suggestion with the metric, mode and
    search space Tune gave, and kept in the saved state so a restored run goes on with the
    same prior; or neither. Without a prior (none given, or an empty history: the first
    run of a family) the searcher runs its own strategy alone and says so once in the log.

    A subclass sets its own attributes, then calls ``super().__init__``; it implements
    :meth:`_continue` (the suggestion once the portfolio is done) and may override
    :meth:`_on_space`, :meth:`_observe`, :meth:`_on_weights` (new task weights),
    :meth:`_on_served_point` and :meth:`_portfolio_open`, calling the base class where
    it has one. ``self._prior`` is None when the searcher runs without a prior.
    """

    #: Whether the strategy reads the task weights after the portfolio (else they are only
    #: refitted while the portfolio is served, to decide whether to let it go).
    _follows_weights = True
    #: What the searcher does without a prior, for the log line that says so.
    _without_prior = "its own strategy"

    def __init__(
        self,
        space: Mapping[str, Any] | None,
        *,
        prior: Prior | None,
        history: Any,
        config: TransferConfig,
        metric: str | None,
        mode: Literal["min", "max"] | None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None,
        seed: int,
    ) -> None:
        if prior is not None:
            check_prior(prior)
            if history is not None:
                raise InvalidConfigError(
                    f"{type(self).__name__} takes prior= (a fitted prior) or history= (past trials it fits "
                    "one on), not both."
                )
        self._prior = prior
        self._history = history  # fitted at the first suggestion (metric, mode and space known then)
        self._fitted_here = False
        self._prepared = False
        self._config = config
        self._proposed = 0  # suggestions made by _propose (points_to_evaluate not counted)
        self._portfolio: list[dict[str, Any]] = []
        self._weights = _initial_weights(prior)
        self._weights_n = 0
        self._let_go_reason: str | None = None
        super().__init__(space, metric=metric, mode=mode, points_to_evaluate=points_to_evaluate, seed=seed)

    # ------------------------------------------------------------------ public
    @property
    def prior(self) -> Prior | None:
        """The prior this searcher transfers from (None: it runs without one)."""
        return self._prior

    def task_weights(self) -> TaskWeights:
        """The training tasks' weights given the target's trials (and "no transfer"'s).

        Refitted at every finished trial from the third on while the portfolio is served,
        then every ``weights_every`` trials by the searchers whose strategy reads them
        (PriorSearcher, PriorTPESearcher), and by the others while some of the portfolio is
        left, up to :data:`LET_GO_HORIZON` trials; otherwise the last ones are kept.
        """
        return self._weights

    def remaining_portfolio(self) -> list[dict[str, Any]]:
        """The portfolio configs still to be served (empty once it was let go)."""
        return [] if self._let_go_reason else [dict(p) for p in self._portfolio]

    @property
    def let_go_reason(self) -> str | None:
        """Why the rest of the portfolio was dropped, or None while it is served (or was served whole)."""
        return self._let_go_reason

    # ------------------------------------------------------------------ MetaSearcher hooks
    def _on_space(self) -> None:
        if self._prior is None:
            self._portfolio = []
            return
        check_target(self._prior, self._metric, self._mode)
        self._prior.prepare_ranking()  # before the trials, not inside the first on_trial_complete
        self._portfolio = portfolio_in_space(
            self._prior, self.space, max_portfolio=self._config.max_portfolio, num_samples=self._num_samples
        )

    def _prepare(self) -> None:
        """Before the first suggestion: fit the prior from ``history=``, or say there is none."""
        if self._prepared:
            return
        self._prepared = True
        if self._history is not None:
            from meta_tune.priors import fit

            history, self._history = self._history, None
            try:
                self._prior = fit(history, space=self.space, metric=self._metric, mode=self._mode)
            except EmptyHistoryError:
                logger.info(
                    "%s: the history has no trials yet (a first run?), so it runs %s alone this time. Record "
                    "the run with StoreCallback(task=..., family=...) and the next run learns from it.",
                    type(self).__name__,
                    self._without_prior,
                )
                return
            else:
                self._fitted_here = True
                self._weights = _initial_weights(self._prior)
                self._on_space()
                return
        if self._prior is None:
            logger.info(
                "%s has no prior to learn from: it runs %s alone. Give it history= (past trials of related "
                "tasks, e.g. Store().history(family=...)) to start from what they learned.",
                type(self).__name__,
                self._without_prior,
            )

    def _propose(self) -> dict[str, Any]:
        slot, self._proposed = self._proposed, self._proposed + 1
        serving = bool(self._portfolio) and not self._let_go_reason and self._portfolio_open()
        if serving and slot == self._config.uniform_slot:
            config = self._uniform()
            self._on_served_point(config)
            return config
        while self._portfolio and not self._let_go_reason and self._portfolio_open():
            point = self._portfolio.pop(0)
            if not self._seen(point):
                self._on_served_point(point)
                return point
        return self._continue()

    def _observe(self, observation: Observation) -> None:
        if observation.value is None or self._prior is None:
            return
        done = sum(o.value is not None for o in self._observations)
        pending = bool(self._portfolio) and not self._let_go_reason
        watching = self._follows_weights or (pending and done <= LET_GO_HORIZON)
        periodic = watching and done - self._weights_n >= self._config.weights_every
        first_ranking = pending and done == MIN_RANKED
        serving = pending and done >= MIN_RANKED and self._portfolio_open()
        if done < 2 or not (periodic or first_ranking or serving):
            return
        self._weights = updated_task_weights(self._prior, self._observations)
        self._weights_n = done
        self._on_weights(self._weights)
        if pending and self._config.let_go and done >= MIN_RANKED and self._weights.none > 0.5:
            self._let_go(
                f"after {done} trials the training tasks rank this task's results no better than chance "
                f"(no-transfer weight {self._weights.none:.2f})"
            )

    def _extra_state(self) -> dict[str, Any]:
        return {
            # A prior fitted here travels with the state; a given one is the caller's to give again.
            "prior": self._prior.to_state() if self._fitted_here and self._prior is not None else (
                "given" if self._prior is not None else None
            ),
            "portfolio": self._portfolio,
            "weights": (self._weights.tasks.tolist(), self._weights.none),
            "weights_n": self._weights_n,
            "let_go": self._let_go_reason,
            "proposed": self._proposed,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`get_state` output, with the prior the saved searcher had.

        Raises:
            InvalidConfigError: The state was saved with a prior and this searcher was built
                without one (give it the same ``prior=`` again).
        """
        saved = state.get("extra", {}).get("prior") if state.get("class") == type(self).__name__ else "given"
        if saved == "given" and self._prior is None:
            raise InvalidConfigError(
                f"This {type(self).__name__} state was saved with a prior that was given to it: build the "
                "searcher with the same prior= before restoring."
            )
        if saved != "given":
            self._prior = None if saved is None else Prior.from_state(cast(dict[str, Any], saved))
            self._fitted_here, self._history = saved is not None, None
        super().set_state(state)

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._portfolio = state["portfolio"]
        tasks, none = state["weights"]
        self._weights = TaskWeights(tasks=np.asarray(tasks, dtype=float), none=float(none))
        self._weights_n = state["weights_n"]
        self._let_go_reason = state["let_go"]
        self._proposed = state["proposed"]

    # ------------------------------------------------------------------ for subclasses
    def _continue(self) -> dict[str, Any]:
        """The suggestion once the portfolio is served or let go."""
        raise NotImplementedError

    def _on_weights(self, weights: TaskWeights) -> None:
        """Hook called with new task weights."""

    def _on_served_point(self, point: dict[str, Any]) -> None:
        """Hook called with a config served before the strategy's own (portfolio or uniform slot)."""

    def _portfolio_open(self) -> bool:
        """Whether the next portfolio config is still served (a model-based strategy may say no)."""
        return True

    def _uniform(self) -> dict[str, Any]:
        """A uniform sample of the space not tried yet (if one is found in 20 draws).

        Early in the budget of a cost-aware searcher, the cheapest-leaning of
        :data:`UNIFORM_DRAWS` uniform draws (chosen as :meth:`_cost_tilted_choice` does).
        """
        draws = UNIFORM_DRAWS if self._cost_exponent() > 0 else 1
        config: dict[str, Any] = {}
        for _ in range(20):
            candidates = self.space.sample(self._rng, draws)
            config = candidates[self._cost_tilted_choice(self.space.encode_many(candidates, "ordinal"))]
            if not self._seen(config):
                break
        return config

    def _let_go(self, reason: str) -> None:
        """Drop the rest of the portfolio, logging why once."""
        if self._let_go_reason or not self._portfolio:
            return
        self._let_go_reason = reason
        logger.info(
            "%s lets go of the last %d portfolio configs: %s.",
            type(self).__name__,
            len(self._portfolio),
            reason,
        )

    def _cost_exponent(self) -> float:
        """The exponent of the cost in cost-aware choices: 1 at the start, cooled to 0 over the budget.

        0 when the searcher is not cost-aware or the prior has no cost model.
        """
        if not self._config.cost_aware or self._prior is None or self._prior.cost_model is None:
            return 0.0
        budget = self._num_samples or DEFAULT_COOLING_TRIALS
        return float(max(0.0, 1.0 - len(self._observations) / budget))

    def _relative_cost(self, unit: np.ndarray) -> np.ndarray:
        """Predicted cost of ordinal-encoded configs relative to a typical config (ones if unknown)."""
        model = None if self._prior is None else self._prior.cost_model
        if model is None:
            return np.ones(len(np.atleast_2d(unit)))
        return model.relative(unit)

    def _cost_tilted_choice(self, unit: np.ndarray) -> int:
        """One of the candidate rows, drawn with probability proportional to ``cost ** -exponent``."""
        exponent = self._cost_exponent()
        if exponent <= 0 or len(unit) == 1:
            return 0
        weights = self._relative_cost(unit) ** -exponent
        return int(self._rng.choice(len(unit), p=weights / weights.sum()))


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


def check_prior(prior: object) -> None:
    """A prior searcher's ``prior`` must be a fitted :class:`~meta_tune.priors.Prior`.

    Raises:
        InvalidConfigError: It is something else; the message says how to fit one.
    """
    if not isinstance(prior, Prior):
        raise InvalidConfigError(
            f"prior must be a meta_tune.priors.Prior, got {type(prior).__name__}; fit one with "
            "meta_tune.priors.fit(history, space=..., metric=..., mode=...), or give the searcher "
            "history= to fit it there."
        )


def check_target(prior: Prior, metric: str | None, mode: str | None) -> None:
    """The metric and mode a searcher was given must be what the prior learned, or say why not.

    Another metric name only warns (a shipped prior's ``auc`` may be the user's ``val_auc``);
    the same metric in the other mode would turn the prior upside down.

    Raises:
        InvalidConfigError: The prior's own metric, with the other mode.
    """
    if metric is not None and metric != prior.metric:
        logger.warning(
            "The prior was fitted to %s %r and this searcher is told to %s %r: it assumes the two agree.",
            "minimize" if prior.mode == "min" else "maximize",
            prior.metric,
            {"min": "minimize", "max": "maximize"}.get(mode or prior.mode, "optimize"),
            metric,
        )
    elif mode is not None and mode != prior.mode:
        raise InvalidConfigError(
            f"The prior was fitted to {'minimize' if prior.mode == 'min' else 'maximize'} {prior.metric!r} "
            f"and this searcher is told mode={mode!r}: it would steer towards the worst configs. Give the "
            f"searcher (or TuneConfig) mode={prior.mode!r}, or fit the prior with mode={mode!r}."
        )


def _initial_weights(prior: Prior | None) -> TaskWeights:
    """The task weights before the target's trials: the prior's meta-feature weights, or all "no transfer"."""
    if prior is None:
        return TaskWeights(tasks=np.zeros(0), none=1.0)
    return TaskWeights(tasks=prior.task_weights().tasks, none=0.0)


def check_config(config: object, cls: type) -> None:
    """A searcher's ``config`` must be None or an instance of its own config class.

    Raises:
        InvalidConfigError: A config of another class (e.g. another searcher's).
    """
    if config is not None and not isinstance(config, cls):
        raise InvalidConfigError(f"config must be a {cls.__name__}, got {type(config).__name__}")


def updated_task_weights(prior: Prior, observations: Sequence[Observation]) -> TaskWeights:
    """The prior's task weights re-fitted to the target's finished observations."""
    done = [o for o in observations if o.value is not None]
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
