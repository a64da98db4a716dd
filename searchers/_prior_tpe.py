"""PriorTPESearcher: hyperopt's TPE warm-started by a meta-learned prior.

The prior's portfolio is evaluated first; then TPE models the target task's own trials
together with pseudo-observations drawn from the prior's density, whose number decays as
the task's own evidence grows.

References:
    Bergstra et al., Algorithms for hyper-parameter optimization, NeurIPS 2011 (TPE).
    Souza et al., Bayesian optimization with a prior for the optimum, ECML-PKDD 2021 (BOPrO).
    Feurer et al., Initializing Bayesian hyperparameter optimization via meta-learning,
    AAAI 2015 (warm-starting with configs of related tasks).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior, TaskWeights
from meta_tune.searchers._transfer import TransferConfig, TransferSearcher, check_config
from meta_tune.space import CategoricalParam, SearchSpace

if TYPE_CHECKING:
    from hyperopt import Domain, Trials

logger = logging.getLogger(__name__)

# hyperopt's TPE puts at most this many trials in its "good" group (tpe.DEFAULT_LF).
_MAX_BELOW = 25


@dataclass(frozen=True)
class PriorTPESearcherConfig(TransferConfig):
    """Settings of :class:`PriorTPESearcher`.

    The portfolio and cost settings (``max_portfolio``, ``weights_every``, ``let_go``,
    ``uniform_slot``, ``cost_aware``) are :class:`TransferConfig`'s.

    Attributes:
        prior_trials: Pseudo-observations drawn from the prior's density while the task has
            no observation of its own.
        prior_decay: After ``n`` own observations, TPE sees
            ``round(prior_trials * (1 - w_none) * prior_decay / (prior_decay + n))``
            pseudo-observations, where ``w_none`` is the "no transfer" share of the task
            weights; the prior's say fades as the task's own evidence grows.
        n_startup_trials: Own observations before TPE starts when the prior contributes no
            pseudo-observation (until then suggestions are uniform).
        gamma: Share of the own observations TPE counts as good: the best
            ``ceil(gamma * sqrt(n))``, as in hyperopt.
        n_ei_candidates: Candidates TPE draws from its good-config density per suggestion;
            it returns the one with the best density ratio.
        prior_weight: Weight of hyperopt's uniform prior in its Parzen estimators.
    """

    prior_trials: int = 16
    prior_decay: float = 10.0
    n_startup_trials: int = 10
    gamma: float = 0.25
    n_ei_candidates: int = 24
    prior_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = {
            "prior_trials": 0 <= self.prior_trials <= _MAX_BELOW - 5,
            "prior_decay": self.prior_decay > 0,
            "n_startup_trials": self.n_startup_trials >= 1,
            "gamma": 0 < self.gamma <= 1,
            "n_ei_candidates": self.n_ei_candidates >= 1,
            "prior_weight": self.prior_weight > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidConfigError(
                    f"PriorTPESearcherConfig.{name}={getattr(self, name)!r} is out of range; accepted: "
                    f"0 <= prior_trials <= {_MAX_BELOW - 5}, prior_decay > 0, n_startup_trials >= 1, "
                    "0 < gamma <= 1, n_ei_candidates >= 1, prior_weight > 0."
                )


class PriorTPESearcher(TransferSearcher):
    """hyperopt's TPE, warm-started by a meta-learned prior.

    Suggestions come, in order, from ``points_to_evaluate``, the prior's zero-shot
    portfolio, and then TPE (``hyperopt.tpe.suggest``, driven directly). TPE's history is
    rebuilt for each suggestion from the task's own observations, plus configs drawn from
    the prior's density entered as *pseudo-observations* ranked best: they always fall in
    TPE's "good" group next to the task's best ``ceil(gamma * sqrt(n))`` trials (the split
    is set exactly per call), never in the "bad" one. Their number decays with the own
    observations and with the "no transfer" share of the task weights (see
    :class:`PriorTPESearcherConfig`), so an unrelated prior loses its say. Failed trials,
    and trials still running (as in hyperopt, so that parallel suggestions spread out), are
    ranked worse than every finished one. Trials stopped early by a scheduler enter with
    the value they stopped at, as in Ray's ``HyperOptSearch``.

    TPE runs in meta-tune's unit-cube encoding: every numeric parameter is ``hp.uniform(0, 1)``
    on its encoded coordinate (log scale, integer and quantized grids and ``randn`` are
    handled by ``SearchSpace.decode``, so none is lost), every categorical is an
    ``hp.choice`` whose options hold the parameters of its categories. A conditional
    parameter is therefore active in TPE exactly when it is in the config, and TPE models
    it only from the trials where it was active (encoding alone would feed it 0.5 for
    every inactive trial).

    Example:
        >>> prior = meta_tune.priors.fit(history, space=param_space, metric="acc", mode="max")
        >>> searcher = PriorTPESearcher(prior=prior, metric="acc", mode="max", seed=0)
        >>> tune.Tuner(train, param_space=param_space,
        ...            tune_config=tune.TuneConfig(search_alg=searcher, max_concurrent_trials=4))

    References:
        Bergstra et al., Algorithms for hyper-parameter optimization, NeurIPS 2011;
        Souza et al., BOPrO, ECML-PKDD 2021.
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
        config: PriorTPESearcherConfig | None = None,
    ) -> None:
        check_config(config, PriorTPESearcherConfig)
        self._config: PriorTPESearcherConfig
        self._pool: list[dict[str, Any]] = []
        self._domain: Domain | None = None
        # Each config's hyperopt values, computed once: the TPE history is rebuilt at every
        # suggestion, and encoding all of it again dominated the call from a few hundred trials.
        self._pool_values: list[dict[str, Any]] | None = None
        self._own_miscs: list[dict[str, Any]] = []  # hyperopt's misc of each own trial
        self._own_offset = 0  # the tid of the first own trial in them
        super().__init__(
            space,
            prior=prior,
            history=history,
            config=config or PriorTPESearcherConfig(),
            metric=metric,
            mode=mode,
            points_to_evaluate=points_to_evaluate,
            seed=seed,
        )

    # ------------------------------------------------------------------ public
    def num_pseudo_observations(self) -> int:
        """How many prior pseudo-observations TPE sees at the next suggestion."""
        cfg = self._config
        share = (1.0 - self._weights.none) * cfg.prior_decay / (cfg.prior_decay + len(self._observations))
        return min(len(self._pool), math.floor(cfg.prior_trials * share + 0.5))

    # ------------------------------------------------------------------ hooks
    _without_prior = "TPE (uniform start-up trials first)"

    def _on_space(self) -> None:
        super()._on_space()
        self._domain = _hyperopt_domain(self.space)
        self._own_miscs = []
        self._draw_pool()

    def _continue(self) -> dict[str, Any]:
        n_pseudo = self.num_pseudo_observations()
        if n_pseudo == 0 and len(self._observations) < self._config.n_startup_trials:
            return self._uniform()
        trials, gamma = self._trials(n_pseudo)
        for _ in range(10):  # TPE may repeat a config of a small discrete space
            config = self._tpe(trials, gamma)
            if not self._seen(config):
                return config
        return self._uniform()

    def _on_weights(self, weights: TaskWeights) -> None:
        self._draw_pool()

    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "pool": self._pool}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        self._pool, self._pool_values, self._own_miscs = state["pool"], None, []

    # ------------------------------------------------------------------ internals
    def _draw_pool(self) -> None:
        """Draw the pseudo-observations from the density.

        They get an RNG of their own: the searcher's RNG is not touched, so a restored
        searcher continues exactly.
        """
        self._pool_values = None
        if self._prior is None:
            self._pool = []
            return
        rng = np.random.default_rng([self._seed, 1, len(self._observations)])
        unit = self._prior.density(self._weights).sample(self._config.prior_trials, rng)
        self._pool = self.space.decode_many(unit, "ordinal") if len(unit) else []

    def _trials(self, n_pseudo: int) -> tuple[Trials, float]:
        """The TPE history: pseudo-observations ranked best, then own trials (failed: worst)."""
        import hyperopt

        own = self._observations
        values = [o.value for o in own if o.value is not None]
        best = min(values, default=0.0)
        worst = max(values, default=0.0)
        losses = [best - 1.0 - (n_pseudo - i) * 1e-6 for i in range(n_pseudo)]
        losses += [worst + 1.0 if o.value is None else o.value for o in own]
        pending = list(self._live.values())  # as hyperopt does: counted bad, for diversity
        losses += [worst + 1.0] * len(pending)
        if self._pool_values is None:
            self._pool_values = [_hyperopt_values(self.space, c) for c in self._pool]
        if self._own_offset != n_pseudo:  # own trials' tids follow the pseudo-observations'
            self._own_miscs, self._own_offset = [], n_pseudo
        for i, o in enumerate(own[len(self._own_miscs) :], start=n_pseudo + len(self._own_miscs)):
            self._own_miscs.append(_misc(_hyperopt_values(self.space, o.config), i))
        after = n_pseudo + len(own)
        miscs = (
            [_misc(values, tid) for tid, values in enumerate(self._pool_values[:n_pseudo])]
            + self._own_miscs
            + [_misc(_hyperopt_values(self.space, c), after + j) for j, c in enumerate(pending)]
        )
        n_good = min(len(values), math.ceil(self._config.gamma * math.sqrt(len(own))), _MAX_BELOW - n_pseudo)
        # tpe.suggest puts the best ceil(gamma' * sqrt(N)) of its N trials in the good group.
        gamma = (n_pseudo + n_good - 0.5) / math.sqrt(len(miscs)) if n_pseudo + n_good else 0.0
        trials = hyperopt.Trials()
        tids = list(range(len(miscs)))
        results = [{"status": hyperopt.STATUS_OK, "loss": float(loss)} for loss in losses]
        docs = trials.new_trial_docs(tids, [None] * len(tids), results, miscs)
        for doc in docs:
            doc["state"] = hyperopt.JOB_STATE_DONE
        trials.insert_trial_docs(docs)
        trials.refresh()
        return trials, gamma

    def _tpe(self, trials: Trials, gamma: float) -> dict[str, Any]:
        from hyperopt import tpe

        cfg = self._config
        new_id = len(trials.trials)
        docs = tpe.suggest(
            [new_id],
            self._domain,
            trials,
            int(self._rng.integers(2**31 - 1)),
            prior_weight=cfg.prior_weight,
            n_startup_jobs=0,
            n_EI_candidates=cfg.n_ei_candidates,
            gamma=gamma,
            verbose=False,
        )
        vals = docs[0]["misc"]["vals"]
        unit = np.full(self.space.dim("ordinal"), 0.5)
        for d, param in enumerate(self.space.params):
            if vals.get(param.name):
                value = vals[param.name][0]
                unit[d] = (
                    (int(value) + 0.5) / param.n if isinstance(param, CategoricalParam) else float(value)
                )
        return self.space.decode(unit, "ordinal")


def _hyperopt_domain(space: SearchSpace) -> Domain:
    """A hyperopt space over the unit-cube encoding that keeps the conditional structure.

    Numeric parameters are ``hp.uniform(name, 0, 1)``; a categorical is ``hp.choice`` over
    one list per category holding the parameters inside that category. A parameter shared by
    several categories is one node, so hyperopt treats it as active under any of them.
    """
    import hyperopt
    from hyperopt import hp

    spec = space.to_dict()
    params = {p["name"]: p for p in spec["params"]}
    nodes: dict[str, Any] = {}

    def refs(node: Mapping[str, Any]) -> list[str]:
        if "dict" in node:
            return [r for child in node["dict"].values() for r in refs(child)]
        if "list" in node:
            return [r for child in node["list"] for r in refs(child)]
        if "param" in node:
            return [node["param"]]
        return []  # a constant

    def expr(name: str) -> Any:
        if name not in nodes:
            param = params[name]
            if param["type"] == "categorical":
                options = [[expr(r) for r in dict.fromkeys(refs(c))] for c in param["categories"]]
                nodes[name] = hp.choice(name, options)
            else:
                nodes[name] = hp.uniform(name, 0.0, 1.0)
        return nodes[name]

    root = [expr(r) for r in dict.fromkeys(refs(spec["template"]))]
    return hyperopt.Domain(lambda _: 0.0, root)


def _hyperopt_values(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Any]:
    """Each parameter's value in the hyperopt domain for ``config`` (None: inactive in it)."""
    unit = space.encode(config, "ordinal")
    active = set(space.active_names(config))
    values: dict[str, Any] = {}
    for d, param in enumerate(space.params):
        if param.name not in active:
            values[param.name] = None
        elif isinstance(param, CategoricalParam):
            values[param.name] = min(param.n - 1, int(unit[d] * param.n))
        else:
            values[param.name] = float(unit[d])
    return values


def _misc(values: Mapping[str, Any], tid: int) -> dict[str, Any]:
    """Hyperopt's ``misc`` of trial ``tid`` with ``values`` (inactive parameters: empty lists)."""
    return {
        "tid": tid,
        "cmd": None,
        "workdir": None,
        "idxs": {name: [] if value is None else [tid] for name, value in values.items()},
        "vals": {name: [] if value is None else [value] for name, value in values.items()},
    }
