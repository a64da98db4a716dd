"""ParetoSearcher: a Pareto portfolio learned from past tasks, then MOTPE or NSGA-II, for several objectives.

References:
    Deb et al., A fast and elitist multiobjective genetic algorithm: NSGA-II, IEEE TEC 2002.
    Ozaki et al., Multiobjective tree-structured Parzen estimator, JAIR 2022 (MOTPE).
    Wistuba et al., Sequential model-free hyperparameter tuning, ICDM 2015 (greedy portfolios).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior
from meta_tune.searchers._base import Observation
from meta_tune.searchers._transfer import TransferConfig, TransferSearcher, check_config

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

#: Times a duplicate of a tried config is asked again of the sampler before a uniform sample is served.
MAX_REDRAWS = 20


@dataclass(frozen=True)
class ParetoSearcherConfig(TransferConfig):
    """Settings of :class:`ParetoSearcher`.

    The portfolio settings (``max_portfolio``, ``weights_every``, ``let_go``,
    ``uniform_slot``, ``cost_aware``) are :class:`TransferConfig`'s; the task ranking that
    decides when to let go reads the first objective.

    Attributes:
        portfolio_size: Configs in the Pareto portfolio fitted from ``history=`` (several
            objectives); one objective uses the prior's own portfolio.
        continuation: What searches after the portfolio, on the unit-cube encoding, with every
            config served so far as its data: ``"motpe"``, Optuna's multi-objective TPE
            (the default: on rbv2 it kept improving the front after the portfolio, where
            NSGA-II stalled, docs/benchmarks.md), or ``"nsga2"``, Optuna's NSGA-II, whose
            first generation starts with the portfolio's configs.
        population_size: NSGA-II's population. Smaller than Optuna's default of 50 so that
            a run of 100 trials sees several generations.
    """

    portfolio_size: int = 20
    continuation: Literal["motpe", "nsga2"] = "motpe"
    population_size: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.continuation not in ("motpe", "nsga2"):
            raise InvalidConfigError(
                f"ParetoSearcherConfig.continuation must be 'motpe' or 'nsga2', got {self.continuation!r}"
            )
        if self.portfolio_size < 1:
            raise InvalidConfigError(
                f"ParetoSearcherConfig.portfolio_size must be >= 1, got {self.portfolio_size}"
            )
        if self.population_size < 2:
            raise InvalidConfigError(
                f"ParetoSearcherConfig.population_size must be >= 2, got {self.population_size}"
            )


class ParetoSearcher(TransferSearcher):
    """A Ray Tune searcher for several objectives that starts from configs Pareto-good on related tasks.

    Give the objectives as Ray's multi-objective searchers take them, ``metric=["acc",
    "timetrain"], mode=["max", "min"]`` (Tune's ``TuneConfig`` takes one metric, used for
    reporting only). Suggestions come from ``points_to_evaluate``, then a **Pareto
    portfolio** (``meta_tune.priors._pareto.pareto_portfolio``: per training task the
    objectives' ranks, a tree ensemble per task predicting them, and configs added greedily
    for the hypervolume summed over the tasks), then Optuna's multi-objective TPE (or NSGA-II,
    ``ParetoSearcherConfig.continuation``) over the space's unit-cube encoding (conditional
    spaces included), with everything served before as its first data.

    Where the portfolio comes from: ``history=`` (past trials with a column per objective)
    fits it, and a prior on the first objective whose task ranking lets the portfolio go
    when the training tasks rank this task's results no better than chance; or
    ``portfolio=`` a portfolio fitted beforehand (with ``prior=`` for the let-go rule); with
    one objective, ``prior=`` alone serves the prior's portfolio, as the other prior
    searchers do. With nothing, it runs MOTPE (or NSGA-II) alone.

    The state is plain JSON: the Optuna study is rebuilt on restore by replaying its asks
    and tells with the same seed. Run trials in parallel with ``ConcurrencyLimiter``.

    Example:
        >>> searcher = ParetoSearcher(history=past_trials, metric=["acc", "timetrain"],
        ...                           mode=["max", "min"], seed=0)
        >>> tune.Tuner(train, param_space=param_space, tune_config=tune.TuneConfig(
        ...     search_alg=searcher, metric="acc", mode="max", max_concurrent_trials=4))

    References:
        Deb et al., NSGA-II, IEEE TEC 2002; Ozaki et al., MOTPE, JAIR 2022; Wistuba et al., ICDM 2015.
    """

    _follows_weights = False
    _without_prior = "its multi-objective sampler (MOTPE or NSGA-II)"
    _history: Any

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        *,
        prior: Prior | None = None,
        history: Any = None,
        portfolio: Sequence[Mapping[str, Any]] | None = None,
        metric: str | Sequence[str] | None = None,
        mode: Literal["min", "max"] | Sequence[Literal["min", "max"]] | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        seed: int = 0,
        config: ParetoSearcherConfig | None = None,
    ) -> None:
        check_config(config, ParetoSearcherConfig)
        self._config: ParetoSearcherConfig
        self._metrics, self._modes = _objectives(metric, mode)
        self._given_portfolio = [dict(p) for p in portfolio] if portfolio is not None else None
        self._study: optuna.Study | None = None
        self._ops: list[list[Any]] = []  # every call on the study, replayed on restore
        self._numbers: dict[str, int] = {}  # trial id -> the study's trial number
        self._vectors: dict[str, list[float] | None] = {}  # trial id -> last objectives reported
        self._asked: int | None = None
        self._restored = False
        self._completing: tuple[str, list[float] | None] | None = None
        super().__init__(
            space,
            prior=prior,
            history=history,
            config=config or ParetoSearcherConfig(),
            metric=self._metrics[0] if self._metrics else None,
            mode=self._modes[0] if self._modes else None,
            points_to_evaluate=points_to_evaluate,
            seed=seed,
        )

    # ------------------------------------------------------------------ public
    @property
    def metrics(self) -> list[str]:
        """The objectives' names (Tune's one metric if none were given)."""
        return list(self._metrics) if self._metrics else [m for m in [self._metric] if m]

    @property
    def modes(self) -> list[str]:
        """``"min"`` or ``"max"`` per objective."""
        return list(self._modes) if self._modes else [m for m in [self._mode] if m]

    # ------------------------------------------------------------------ Ray protocol
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next config; every one is also a trial of the sampler's study."""
        self._asked = None
        config = super().suggest(trial_id)
        assert config is not None
        if self._asked is None:  # points_to_evaluate, the portfolio or the uniform slot
            number = self._ask(self.space.encode(config, "ordinal").tolist()).number
        else:
            number = self._asked
        self._numbers[trial_id] = number
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Remember the trial's latest objectives (a stopped trial's final result may not come)."""
        super().on_trial_result(trial_id, result)
        if trial_id in self._live and all(m in result for m in self.metrics):
            self._vectors[trial_id] = self._vector(result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record the finished trial and tell the sampler its objectives (failed if one is missing or NaN)."""
        if trial_id in self._live and result is not None and not error:
            missing = [m for m in self.metrics if m not in result]
            if missing:
                raise InvalidConfigError(
                    f"{type(self).__name__} expected the metric {missing[0]!r} in the last result of trial "
                    f"{trial_id}, but it has only {sorted(result)}. Report every objective {self.metrics} "
                    "with tune.report({...}), or fix the metric names given to the searcher."
                )
        last = self._vectors.pop(trial_id, None)
        self._completing = (trial_id, None if error else (last if result is None else self._vector(result)))
        try:
            super().on_trial_complete(trial_id, result, error)
        finally:
            self._completing = None

    # ------------------------------------------------------------------ TransferSearcher hooks
    def _on_space(self) -> None:
        super()._on_space()
        if self._given_portfolio is not None:
            configs = [self.space.complete(p) for p in self._given_portfolio]
            for config in configs:
                why = self.space.check(config)
                if why is not None:
                    raise InvalidConfigError(
                        f"portfolio holds a config that is not in the search space, at {why}. "
                        f"Config: {config}"
                    )
            self._portfolio = self._capped(configs)
        self._study = None  # rebuilt (replaying the calls so far) when next used

    def _prepare(self) -> None:
        if self._prepared:
            return
        history: Any = self._history
        if history is not None and len(self.metrics) > 1:
            from meta_tune.priors._prior import _history_frame

            # The other objectives are metrics, not parameters the space lacks: say so to the fit.
            history = _history_frame(history, None).copy()
            history.attrs["metrics"] = [*history.attrs.get("metrics", ()), *self.metrics]
            self._history = history
        super()._prepare()
        if (
            history is None
            or self._prior is None
            or len(self.metrics) < 2
            or self._given_portfolio is not None
        ):
            alone = self._given_portfolio is None and not self._restored
            if self._prior is not None and len(self.metrics) > 1 and alone:
                logger.warning(
                    "%s was given a prior of %r alone: it serves that prior's single-objective portfolio. "
                    "Give it history= (past trials with a column per objective) for a Pareto portfolio.",
                    type(self).__name__,
                    self._prior.metric,
                )
            return
        from meta_tune.priors._pareto import pareto_portfolio

        configs = pareto_portfolio(
            history,
            self.space,
            metrics=self.metrics,
            modes=self.modes,  # type: ignore[arg-type]
            size=self._config.portfolio_size,
            seed=self._seed,
        )
        self._portfolio = self._capped(configs)

    def _continue(self) -> dict[str, Any]:
        for _ in range(MAX_REDRAWS):
            trial = self._ask(None)
            config = self.space.decode([trial.params[f"x{i}"] for i in range(len(trial.params))], "ordinal")
            if not self._seen(config):
                self._asked = trial.number
                return config
            self._tell(trial.number, None)  # a duplicate: the sampler learns nothing from it
        config = self._uniform()
        self._asked = self._ask(self.space.encode(config, "ordinal").tolist()).number
        return config

    def _observe(self, observation: Observation) -> None:
        super()._observe(observation)
        if self._completing is not None and self._completing[0] in self._numbers:
            trial_id, vector = self._completing
            self._tell(self._numbers.pop(trial_id), vector if observation.value is not None else None)

    def _extra_state(self) -> dict[str, Any]:
        return {
            **super()._extra_state(),
            "ops": self._ops,
            "numbers": self._numbers,
            "vectors": self._vectors,
            "metrics": self._metrics,
            "modes": self._modes,
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        self._ops, self._numbers, self._vectors = state["ops"], state["numbers"], state["vectors"]
        self._metrics, self._modes = state["metrics"], state["modes"]
        self._study, self._restored = None, True

    # ------------------------------------------------------------------ internals
    def _capped(self, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The portfolio's first configs, as many as ``max_portfolio`` or a quarter of the budget allow."""
        size = len(configs)
        if self._config.max_portfolio is not None:
            size = min(size, self._config.max_portfolio)
        elif self._num_samples:
            size = min(size, max(1, self._num_samples // 4))
        return configs[:size]

    def _vector(self, result: Mapping[str, Any]) -> list[float] | None:
        """The result's objectives, each oriented to minimize; None if one is missing, NaN or infinite."""
        out = []
        for metric, mode in zip(self.metrics, self.modes):
            try:
                value = float(result[metric])
            except (KeyError, TypeError, ValueError):
                return None
            if not math.isfinite(value):
                return None
            out.append(value if mode == "min" else -value)
        return out

    def _get_study(self) -> optuna.Study:
        if self._study is None:
            from meta_tune._imports import require

            backend = require("optuna", extra="bench")
            sampler: optuna.samplers.BaseSampler
            if self._config.continuation == "nsga2":
                sampler = backend.samplers.NSGAIISampler(
                    population_size=self._config.population_size, seed=self._seed
                )
            else:
                sampler = backend.samplers.TPESampler(seed=self._seed)
            directions = ["minimize"] * len(self.metrics)
            self._study = backend.create_study(directions=directions, sampler=sampler)
            ops, self._ops = self._ops, []
            for op in ops:  # the same calls on a sampler of the same seed give the same study
                if op[0] == "ask":
                    self._ask(op[1])
                else:
                    self._tell(op[1], op[2])
        return self._study

    def _ask(self, fixed: list[float] | None) -> optuna.trial.Trial:
        """A new trial of the study, with ``fixed`` unit-cube coordinates (else the sampler's)."""
        from optuna.distributions import FloatDistribution

        study = self._get_study()
        names = [f"x{i}" for i in range(self.space.dim("ordinal"))]
        if fixed is not None:
            study.enqueue_trial(dict(zip(names, fixed)))
        trial = study.ask({name: FloatDistribution(0.0, 1.0) for name in names})
        self._ops.append(["ask", fixed])
        return trial

    def _tell(self, number: int, values: list[float] | None) -> None:
        from optuna.trial import TrialState

        study = self._get_study()
        if values is None:
            study.tell(number, state=TrialState.FAIL)
        else:
            study.tell(number, values if len(values) > 1 else values[0])
        self._ops.append(["tell", number, values])


def _objectives(
    metric: str | Sequence[str] | None, mode: str | Sequence[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """The objectives as lists (None: Tune gives one metric and mode later).

    Raises:
        InvalidConfigError: A list of metrics without one mode per metric, a repeated
            metric, or a mode other than ``"min"``/``"max"``.
    """
    if metric is None and mode is None:
        return None, None
    metrics = [metric] if isinstance(metric, str) else list(metric) if metric is not None else None
    modes = [mode] if isinstance(mode, str) else list(mode) if mode is not None else None
    if metrics is not None and modes is not None and len(metrics) != len(modes):
        raise InvalidConfigError(
            f"Give one mode per metric: metric={metrics} and mode={modes}, e.g. metric=['acc', 'timetrain'], "
            "mode=['max', 'min']."
        )
    if metrics is None and modes is not None and len(modes) > 1:
        raise InvalidConfigError(f"mode={modes} lists several modes: give the metrics as metric=[...] too.")
    if metrics is not None and len(set(metrics)) != len(metrics):
        raise InvalidConfigError(f"metric={metrics} names an objective twice.")
    for m in modes or []:
        if m not in ("min", "max"):
            raise InvalidConfigError(f"mode must be 'min' or 'max' (or a list of them), got {m!r}")
    if metrics is not None and len(metrics) > 1 and modes is None:
        raise InvalidConfigError(
            f"metric={metrics} lists several objectives: give one mode per metric, mode=[...]."
        )
    return metrics, modes
