"""TransferBOSearcher: Gaussian-process BO that transfers from related tasks (RGPE or copula).

References:
    Feurer, Letham and Bakshy, Scalable meta-learning for Bayesian optimization using
    ranking-weighted Gaussian process ensembles, AutoML workshop at ICML 2018 (RGPE).
    Salinas, Shen and Perrone, A quantile-based approach for hyperparameter transfer
    learning, ICML 2020 (copula-normalized targets).
    Jones, Schonlau and Welch, Efficient global optimization of expensive black-box
    functions, J. Global Optimization 1998 (expected improvement).
"""

from __future__ import annotations

import functools
import logging
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import linalg, special, stats

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import MixtureDensity, Prior, TaskWeights
from meta_tune.priors._similarity import ranking_weights
from meta_tune.searchers._transfer import TransferConfig, TransferSearcher, check_config
from meta_tune.space import CategoricalParam, SearchSpace

if TYPE_CHECKING:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Kernel

    from meta_tune.priors._history import TaskHistory

logger = logging.getLogger(__name__)

Acquisition = Literal["ei", "pi", "ucb", "thompson"]
Transfer = Literal["rgpe", "copula"]
KernelName = Literal["matern", "rbf"]
_ACQUISITIONS: tuple[str, ...] = ("ei", "pi", "ucb", "thompson")
_TRANSFERS: tuple[str, ...] = ("rgpe", "copula")
_KERNELS: tuple[str, ...] = ("matern", "rbf")
# Finished target observations before the GP takes over from the prior's density.
_MIN_POINTS = 2
# The best raw candidates are decoded to configs and scored again (inactive conditional
# coordinates and integer grids only exist after decoding).
_SNAP = 16
# The copula prior mean's scale is shrunk towards 1 as if by this much agreeing evidence.
_COPULA_SHRINK = 2.0
# A failed trial enters the target GP this many standard deviations above the worst finished one.
_FAIL_MARGIN = 0.25
# Per-task GPs and the pooled copula GP, per prior object: they depend only on the prior and
# the settings, so every searcher built on one prior (a benchmark's seeds and tasks) shares them.
_MODELS: weakref.WeakKeyDictionary[Prior, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class TransferBOConfig(TransferConfig):
    """Settings of :class:`TransferBOSearcher`.

    The portfolio and cost settings (``max_portfolio``, ``weights_every``, ``let_go``,
    ``uniform_slot``, ``cost_aware``) are :class:`TransferConfig`'s.

    Attributes:
        acquisition: ``"ei"`` (expected improvement), ``"pi"`` (probability of improvement),
            ``"ucb"`` (lower confidence bound of the loss) or ``"thompson"`` (one joint
            posterior sample over the best candidates).
        transfer: ``"rgpe"``: a ranking-weighted ensemble of one GP per training task and
            the target's GP; ``"copula"``: one GP on every task's copula-normalized values as
            the (scaled) prior mean, the target's GP on the residuals.
        kernel: ``"matern"`` (Matern 5/2) or ``"rbf"``, with one length scale per input,
            times a constant, plus a white-noise kernel.
        max_task_points: Trials of each training task its GP is fitted on (its best fifth
            and a seeded random sample of the rest), so the GPs stay small.
        max_members: Training-task GPs in the RGPE ensemble at once: those of highest
            weight (their weights and the target's are renormalized).
        copula_points: Trials, pooled evenly over the training tasks (at least one each),
            the copula prior-mean GP is fitted on.
        max_fit_points: At most this many target trials (the best half and the most
            recent) are used to fit the kernel hyperparameters; the GP then conditions on all.
        fit_iterations: L-BFGS iterations per kernel-hyperparameter fit.
        refit_growth: Refit the target GP's hyperparameters once the number of finished
            trials has grown by this factor since the last fit (in between they are kept).
        min_fidelity_points: The GP models the trials that reached the highest fidelity
            (``training_iteration``) reached by at least this many finished trials (None:
            the space's dimension + 1, as BOHB), and failed trials.
        n_random: Uniform candidates per suggestion.
        n_prior: Candidates drawn from the prior's density per suggestion.
        n_local: Perturbations of the incumbent per suggestion (half with ``local_scale``,
            half with a fifth of it, in unit-cube coordinates).
        local_scale: Standard deviation of the wider perturbations.
        xi: Improvement margin of EI and PI, in standard deviations of the target.
        ucb_beta: Standard deviations subtracted from the mean by ``"ucb"``.
        n_thompson: Candidates (lowest lower confidence bound first) Thompson sampling
            draws one joint sample over.
    """

    acquisition: Acquisition = "ei"
    transfer: Transfer = "rgpe"
    kernel: KernelName = "matern"
    max_task_points: int = 50
    max_members: int = 6
    copula_points: int = 256
    max_fit_points: int = 48
    fit_iterations: int = 25
    refit_growth: float = 1.2
    min_fidelity_points: int | None = None
    n_random: int = 128
    n_prior: int = 128
    n_local: int = 64
    local_scale: float = 0.1
    xi: float = 0.01
    ucb_beta: float = 2.0
    n_thompson: int = 32
    uniform_slot: int | None = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        choices = {"acquisition": _ACQUISITIONS, "transfer": _TRANSFERS, "kernel": _KERNELS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InvalidConfigError(
                    f"TransferBOConfig.{name}={getattr(self, name)!r} is not one of {list(allowed)}."
                )
        checks = {
            "max_task_points": self.max_task_points >= 2,
            "max_members": self.max_members >= 0,
            "copula_points": self.copula_points >= 2,
            "max_fit_points": self.max_fit_points >= 2,
            "fit_iterations": self.fit_iterations >= 1,
            "refit_growth": self.refit_growth >= 1.0,
            "min_fidelity_points": self.min_fidelity_points is None or self.min_fidelity_points >= 1,
            "n_random": self.n_random >= 0,
            "n_prior": self.n_prior >= 0,
            "n_local": self.n_local >= 0,
            "local_scale": 0 < self.local_scale <= 1,
            "xi": self.xi >= 0,
            "ucb_beta": self.ucb_beta >= 0,
            "n_thompson": self.n_thompson >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidConfigError(
                    f"TransferBOConfig.{name}={getattr(self, name)!r} is out of range; accepted: "
                    "max_task_points, copula_points, max_fit_points >= 2; fit_iterations, n_thompson >= 1; "
                    "max_members, n_random, n_prior, n_local, xi, ucb_beta >= 0; "
                    "refit_growth >= 1; 0 < local_scale <= 1; min_fidelity_points >= 1 or None."
                )
        if self.n_random + self.n_prior + self.n_local < 1:
            raise InvalidConfigError(
                "TransferBOConfig needs candidates to maximize the acquisition over: n_random, n_prior "
                f"and n_local are all 0 ({self})."
            )


@dataclass(frozen=True)
class _Data:
    """The target trials the GP models: finished ones (``value``) and failed ones (NaN)."""

    index: list[int]  # positions in the searcher's observations
    unit: np.ndarray  # ordinal unit-cube points, (n, d)
    value: np.ndarray  # lower is better; NaN for a failed trial
    n_done: int  # finished trials at any fidelity (it only grows: the refit schedules count it)

    @property
    def finished(self) -> np.ndarray:
        return ~np.isnan(self.value)


class TransferBOSearcher(TransferSearcher):
    """Gaussian-process Bayesian optimization that transfers from the prior's training tasks.

    Suggestions come, in order, from ``points_to_evaluate``, the prior's zero-shot
    portfolio (until two trials have finished; the prior's density if it runs out), and
    then the config that maximizes the acquisition (:class:`TransferBOConfig`; per
    expected second early in the budget when the history has runtimes) among the
    portfolio's remaining configs, uniform candidates, candidates from the prior's density
    and perturbations of the incumbent. GPs are
    scikit-learn's ``GaussianProcessRegressor`` on the ordinal unit-cube encoding (a
    categorical with three or more categories one-hot; inactive conditional parameters
    encode as 0.5, one constant, so trials without them agree there).

    ``transfer="rgpe"``: one GP per training task (fitted once on at most
    ``max_task_points`` standardized trials and cached per prior) and the target's GP form
    an ensemble, mean ``sum w_i mu_i`` and variance ``sum w_i^2 sigma_i^2``. A task's weight
    is the share of bootstrap resamples of the target's trials that it ranks best; the
    target competes with its leave-one-out predictions and also takes the share of a
    coin-flip reference, so its weight grows as its own trials come in and an unrelated
    history loses its say (:meth:`ensemble_weights`). ``transfer="copula"``: every task's
    values (the target's too) are mapped to normal quantiles of their ranks, a GP on a
    pooled sample of the tasks' is the prior mean, scaled by a least-squares fit to the
    target's values (in [0, 1], shrunk towards 1 while they are few), and the target's GP
    models the rest.

    The GP models the trials that reached the highest fidelity (``min_fidelity_points``)
    and the failed ones, as slightly worse than the worst finished trial; trials still
    running enter as the worst finished value (constant liar), so parallel suggestions
    spread out. Kernel hyperparameters are refitted on a geometric schedule and stored, so
    a restored searcher refits the same GPs and continues exactly.

    Example:
        >>> prior = meta_tune.priors.fit(history, space=param_space, metric="acc", mode="max")
        >>> searcher = TransferBOSearcher(prior=prior, metric="acc", mode="max", seed=0)
        >>> tune.Tuner(train, param_space=param_space,
        ...            tune_config=tune.TuneConfig(search_alg=searcher, max_concurrent_trials=4))

    References:
        Feurer et al., RGPE, 2018; Salinas et al., A quantile-based approach for
        hyperparameter transfer learning, ICML 2020.
    """

    _follows_weights = False  # its own strategy does not read the prior's task weights

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
        config: TransferBOConfig | None = None,
    ) -> None:
        check_config(config, TransferBOConfig)
        self._config: TransferBOConfig
        self._theta: list[float] | None = None  # the target GP's kernel hyperparameters (log scale)
        self._theta_n = 0  # finished trials when they were fitted
        self._rgpe: list[float] | None = None  # RGPE: each training task, then the target
        self._rgpe_n = 0
        self._base_at_obs: list[list[float]] = []  # RGPE: each task GP's mean at each observation
        self._copula_scale = 1.0  # copula: the weight of the pooled prior mean
        self._obs_unit: list[np.ndarray] = []  # encoded observations (a cache, not state)
        self._features: _Features | None = None
        self._density: MixtureDensity | None = None
        super().__init__(
            space,
            prior=prior,
            history=history,
            config=config or TransferBOConfig(),
            metric=metric,
            mode=mode,
            points_to_evaluate=points_to_evaluate,
            seed=seed,
        )

    # ------------------------------------------------------------------ public
    def ensemble_weights(self) -> TaskWeights:
        """The RGPE weights of the training tasks, and the target GP's weight in ``none``.

        Before two trials have finished these are the prior's meta-feature weights with
        ``none=0``. Only the ``max_members`` heaviest tasks enter the ensemble; this reports
        all of them. With ``transfer="copula"``, the meta-feature weights times the prior
        mean's scale, and ``none`` is one minus that scale.
        """
        if self._prior is None:
            return TaskWeights(tasks=np.zeros(0), none=1.0)
        if self._config.transfer == "copula":
            scale = self._copula_scale
            return TaskWeights(tasks=self._prior.task_weights().tasks * scale, none=1.0 - scale)
        if self._rgpe is None:
            return TaskWeights(tasks=self._prior.task_weights().tasks, none=0.0)
        return TaskWeights(tasks=np.asarray(self._rgpe[:-1]), none=float(self._rgpe[-1]))

    # ------------------------------------------------------------------ hooks
    _without_prior = "GP-based Bayesian optimization on this task's trials"

    def _on_space(self) -> None:
        super()._on_space()
        self._features = _Features(self.space)
        self._obs_unit = []
        self._density = None

    def _portfolio_open(self) -> bool:
        return int(self._modeled().finished.sum()) < _MIN_POINTS

    def _continue(self) -> dict[str, Any]:
        data = self._modeled()
        if int(data.finished.sum()) < _MIN_POINTS:
            return self._from_density()
        with _one_blas_thread():
            config = self._bayesopt(data)
        if config is None:
            return self._from_density()
        if config in self._portfolio:  # the acquisition chose a portfolio config
            self._portfolio.remove(config)
        return config

    def _extra_state(self) -> dict[str, Any]:
        return {
            **super()._extra_state(),
            "theta": self._theta,
            "theta_n": self._theta_n,
            "rgpe": self._rgpe,
            "rgpe_n": self._rgpe_n,
            "base_at_obs": self._base_at_obs,
            "copula_scale": self._copula_scale,
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        self._theta, self._theta_n = state["theta"], state["theta_n"]
        self._rgpe, self._rgpe_n = state["rgpe"], state["rgpe_n"]
        self._base_at_obs = state["base_at_obs"]
        self._copula_scale = state["copula_scale"]
        self._density = None

    # ------------------------------------------------------------------ the data
    def _unit_of_observations(self) -> list[np.ndarray]:
        """Each observation's ordinal encoding, encoded one at a time (so identically after a restore)."""
        for o in self._observations[len(self._obs_unit) :]:
            self._obs_unit.append(self.space.encode(o.config, "ordinal"))
        return self._obs_unit

    def _modeled(self) -> _Data:
        obs = self._observations
        units = self._unit_of_observations()
        done = [i for i, o in enumerate(obs) if o.value is not None]
        level = 0
        if done:
            need = self._config.min_fidelity_points or self.space.dim("ordinal") + 1
            reached = sorted((obs[i].iteration for i in done), reverse=True)
            level = reached[min(need, len(reached)) - 1]
        index = [i for i, o in enumerate(obs) if o.value is None or o.iteration >= level]
        unit = np.stack([units[i] for i in index]) if index else np.empty((0, self.space.dim("ordinal")))
        value = np.array([np.nan if obs[i].value is None else obs[i].value for i in index], dtype=float)
        return _Data(index=index, unit=unit, value=value, n_done=len(done))

    def _pending_unit(self) -> np.ndarray:
        live = list(self._live.values())
        if not live:
            return np.empty((0, self.space.dim("ordinal")))
        return np.stack([self.space.encode(c, "ordinal") for c in live])

    # ------------------------------------------------------------------ Bayesian optimization
    def _bayesopt(self, data: _Data) -> dict[str, Any] | None:
        cfg = self._config
        assert self._features is not None
        features = self._features
        targets, best = self._targets(data)
        liar = float(targets[data.finished].max())  # running trials count as the worst finished one
        pending = self._pending_unit()
        prior_mean: _Scaled | None = None
        transfer = cfg.transfer if self._prior is not None else None  # without a prior: the target GP alone
        if transfer == "copula":  # the target GP models the residuals from the scaled pooled GP
            prior_mean = _Scaled(self._copula_model())
            prior_mean.fit(features(data.unit), targets)
            self._copula_scale = prior_mean.scale
            targets = targets - prior_mean.predict(features(data.unit))
        self._refit_theta(features(data.unit), targets, data)
        members: list[tuple[GaussianProcessRegressor, float]] = []
        target_weight = 1.0
        if transfer == "rgpe":
            self._update_weights(data, targets)
            members, target_weight = self._members()
        x, y = features(data.unit), targets
        if len(pending):
            liars = np.full(len(pending), liar)
            if prior_mean is not None:
                liars = liars - prior_mean.predict(features(pending))
            x, y = np.concatenate([x, features(pending)]), np.concatenate([y, liars])
        target_gp = _fit_gp(x, y, self._kernel(features.dim, self._theta), iterations=0)
        members.append((target_gp, target_weight))

        def posterior(unit: np.ndarray, cov: bool = False) -> tuple[np.ndarray, np.ndarray]:
            return _posterior(features(unit), members, prior_mean, cov=cov)

        candidates = self._candidates()
        if cfg.acquisition == "thompson":
            return self._thompson(candidates, posterior)
        mean, var = posterior(candidates)
        score = self._acquire(mean, var, best, candidates)
        top = np.argsort(-score, kind="stable")[:_SNAP]
        configs = self.space.decode_many(candidates[top], "ordinal")
        units = self.space.encode_many(configs, "ordinal")
        mean, var = posterior(units)
        score = self._acquire(mean, var, best, units)
        for j in np.argsort(-score, kind="stable"):
            if not self._seen(configs[j]):
                return configs[j]
        return None

    def _targets(self, data: _Data) -> tuple[np.ndarray, float]:
        """The modeled values in the GP's units (failed ones worse than all) and the best of them."""
        finished = data.finished
        values = data.value[finished]
        if self._config.transfer == "copula":
            z = _copula(np.where(finished, data.value, np.inf))
            return z, float(z[finished].min())
        scale = float(values.std()) or 1.0
        y = (data.value - float(values.mean())) / scale
        worst = float(y[finished].max())
        return np.where(finished, y, worst + _FAIL_MARGIN), float(y[finished].min())

    def _acquire(self, mean: np.ndarray, var: np.ndarray, best: float, unit: np.ndarray) -> np.ndarray:
        """The acquisition (higher is better) of points ``unit`` with posterior ``mean``/``var`` of the loss.

        EI and PI are per ``cost ** a`` (in log space for PI), ``a`` the cooled cost exponent.
        """
        cfg = self._config
        sd = np.sqrt(np.maximum(var, 1e-12))
        if cfg.acquisition == "ucb":
            return -(mean - cfg.ucb_beta * sd)
        z = (best - cfg.xi - mean) / sd
        exponent = self._cost_exponent()
        log_cost = exponent * np.log(self._relative_cost(unit)) if exponent > 0 else 0.0
        if cfg.acquisition == "pi":
            return special.log_ndtr(z) - log_cost
        # log EI, stable far below the incumbent: log(sd) + log(z * Phi(z) + phi(z)).
        return np.log(sd) + _log_h(z) - log_cost

    def _thompson(
        self, candidates: np.ndarray, posterior: Callable[..., tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, Any] | None:
        mean, var = posterior(candidates)
        screen = np.argsort(mean - 2.0 * np.sqrt(np.maximum(var, 0.0)), kind="stable")
        configs = self.space.decode_many(candidates[screen[: self._config.n_thompson]], "ordinal")
        mean, cov = posterior(self.space.encode_many(configs, "ordinal"), cov=True)
        sample = mean + _cholesky(cov) @ self._rng.standard_normal(len(mean))
        for j in np.argsort(sample, kind="stable"):
            if not self._seen(configs[j]):
                return configs[j]
        return None

    def _candidates(self) -> np.ndarray:
        """Uniform points, points from the prior's density and perturbations of the incumbent."""
        cfg, d = self._config, self.space.dim("ordinal")
        parts = [self._rng.random((cfg.n_random, d))]
        if cfg.n_prior and self._prior is not None:
            parts.append(self._prior_density().sample(cfg.n_prior, self._rng))
        incumbent = self.incumbent()
        if incumbent is not None and cfg.n_local:
            center = self.space.encode(incumbent.config, "ordinal")
            scale = np.where(np.arange(cfg.n_local) % 2 == 0, cfg.local_scale, cfg.local_scale / 5)
            local = np.abs(center + self._rng.standard_normal((cfg.n_local, d)) * scale[:, None])
            local = np.where(local > 1.0, 2.0 - local, local).clip(0.0, 1.0)  # reflected at 0 and 1
            cats = [j for j, p in enumerate(self.space.params) if isinstance(p, CategoricalParam)]
            if cats:  # a categorical keeps its category, or is redrawn (its order means nothing)
                redraw = self._rng.random((cfg.n_local, len(cats))) < max(0.1, 1.0 / d)
                drawn = self._rng.random((cfg.n_local, len(cats)))
                local[:, cats] = np.where(redraw, drawn, center[cats])
            parts.append(local)
        remaining = [p for p in self.remaining_portfolio() if not self._seen(p)]
        if remaining:  # the portfolio's configs compete with the rest (per second, if cost-aware)
            parts.append(self.space.encode_many(remaining, "ordinal"))
        return np.concatenate(parts)

    def _from_density(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for attempt in range(20):  # resample a config that was already tried (small discrete spaces)
            if attempt < 10 and self._prior is not None:
                unit = self._prior_density().sample(1, self._rng)[0]
            else:
                unit = self._rng.random(self.space.dim("ordinal"))
            config = self.space.decode(unit, "ordinal")
            if not self._seen(config):
                break
        return config

    def _prior_density(self) -> MixtureDensity:
        assert self._prior is not None
        if self._density is None:
            weights = None
            if self._rgpe is not None:
                weights = TaskWeights(tasks=np.asarray(self._rgpe[:-1]), none=self._rgpe[-1])
            self._density = self._prior.density(weights)
        return self._density

    # ------------------------------------------------------------------ the models
    def _kernel(self, dim: int, theta: Sequence[float] | None = None) -> Kernel:
        kernel = _kernel(self._config.kernel, dim)
        return kernel if theta is None else kernel.clone_with_theta(np.asarray(theta, dtype=float))

    def _refit_theta(self, x: np.ndarray, y: np.ndarray, data: _Data) -> None:
        """Fit the kernel hyperparameters when the finished trials have grown by ``refit_growth``."""
        cfg = self._config
        n = data.n_done
        due = self._theta is None or n >= max(self._theta_n + 1, cfg.refit_growth * self._theta_n)
        if not due or (self._theta is not None and cfg.weights_every > 1 and self._weights_due(n)):
            return  # not due, or the RGPE weights are: the refit waits a suggestion, to spread the cost
        rows = np.arange(len(y))
        if len(rows) > cfg.max_fit_points:  # the best half and the most recent others
            best = np.argsort(y, kind="stable")[: cfg.max_fit_points // 2]
            rest = np.setdiff1d(rows, best)[-(cfg.max_fit_points - len(best)) :]
            rows = np.sort(np.concatenate([best, rest]))
        gp = _fit_gp(x[rows], y[rows], self._kernel(x.shape[1], self._theta), iterations=cfg.fit_iterations)
        self._theta = [float(v) for v in gp.kernel_.theta]
        self._theta_n = n
        logger.debug("Target GP refitted on %d of %d trials: %s", len(rows), len(y), gp.kernel_)

    def _update_weights(self, data: _Data, targets: np.ndarray) -> None:
        """Recompute the RGPE weights every ``weights_every`` finished trials."""
        finished = data.finished
        n = data.n_done
        if not self._weights_due(n):
            return
        models = self._task_models()
        new = self._observations[len(self._base_at_obs) :]
        if new:
            assert self._features is not None
            units = self._unit_of_observations()[len(self._base_at_obs) :]
            x = self._features(np.stack(units))
            at_new = np.column_stack([_mean(m, x) for m in models])
            self._base_at_obs.extend([float(v) for v in row] for row in at_new)
        rows = [i for i, ok in zip(data.index, finished) if ok]
        base = np.asarray(self._base_at_obs, dtype=float)[rows]
        assert self._features is not None
        gp = _fit_gp(self._features(data.unit), targets, self._kernel(self._features.dim, self._theta), 0)
        loo = _leave_one_out(gp, targets)[finished]
        assert self._prior is not None
        meta = self._prior.task_weights().tasks
        shares = ranking_weights(
            [*base.T, loo],
            data.value[finished],
            np.append(meta, 1.0),  # ties between a task and the target: the target wins
            np.random.default_rng([self._seed, 3, n]),
        )
        weights = np.append(shares.tasks[:-1], shares.tasks[-1] + shares.none)
        self._rgpe, self._rgpe_n = [float(w) for w in weights], n
        self._density = None
        logger.debug(
            "RGPE weights after %d trials: target %.2f, top task %.2f", n, weights[-1], weights[:-1].max()
        )

    def _weights_due(self, n_done: int) -> bool:
        if self._config.transfer != "rgpe" or self._prior is None:
            return False
        return self._rgpe is None or n_done >= self._rgpe_n + self._config.weights_every

    def _members(self) -> tuple[list[tuple[GaussianProcessRegressor, float]], float]:
        """The heaviest task GPs and their renormalized weights, and the target GP's weight."""
        assert self._rgpe is not None
        weights = np.asarray(self._rgpe)
        order = np.argsort(-weights[:-1], kind="stable")[: self._config.max_members]
        order = order[weights[order] > 0]
        total = float(weights[order].sum() + weights[-1])
        models = self._task_models()
        members = [(models[t], float(weights[t]) / total) for t in order]
        return members, float(weights[-1]) / total

    def _task_models(self) -> list[GaussianProcessRegressor]:
        assert self._prior is not None
        cfg = self._config
        key = ("tasks", cfg.kernel, cfg.max_task_points, cfg.fit_iterations)
        cache = _MODELS.setdefault(self._prior, {})
        if key not in cache:
            features = _Features(self._prior.space)
            models = []
            for t, task in enumerate(self._prior.tasks):
                rows = _subsample(
                    task, cfg.max_task_points, np.random.default_rng([self._prior.config.seed, 11, t])
                )
                scale = float(task.loss.std()) or 1.0
                y = (task.loss[rows] - float(task.loss.mean())) / scale
                kernel = _kernel(cfg.kernel, features.dim)
                models.append(_fit_gp(features(task.unit[rows]), y, kernel, iterations=cfg.fit_iterations))
            cache[key] = models
            logger.debug("Fitted %d training-task GPs.", len(models))
        return list(cache[key])

    def _copula_model(self) -> GaussianProcessRegressor:
        assert self._prior is not None
        cfg = self._config
        key = ("copula", cfg.kernel, cfg.copula_points, cfg.fit_iterations)
        cache = _MODELS.setdefault(self._prior, {})
        if key not in cache:
            features = _Features(self._prior.space)
            tasks = self._prior.tasks
            per_task = max(1, cfg.copula_points // len(tasks))
            xs, ys = [], []
            for t, task in enumerate(tasks):
                rows = _subsample(task, per_task, np.random.default_rng([self._prior.config.seed, 13, t]))
                xs.append(features(task.unit[rows]))
                ys.append(_copula(task.loss)[rows])
            kernel = _kernel(cfg.kernel, features.dim)
            cache[key] = _fit_gp(
                np.concatenate(xs), np.concatenate(ys), kernel, iterations=cfg.fit_iterations
            )
        model: GaussianProcessRegressor = cache[key]
        return model


class _Features:
    """Ordinal unit-cube points to GP inputs.

    Numeric coordinates stay as they are; a categorical with three or more categories
    becomes one-hot (the order of its ordinal coordinate means nothing), one with two
    categories keeps its coordinate.
    """

    def __init__(self, space: SearchSpace) -> None:
        self._plan = [p.n if isinstance(p, CategoricalParam) and p.n >= 3 else 0 for p in space.params]
        self.dim = sum(max(1, n) for n in self._plan)

    def __call__(self, unit: np.ndarray) -> np.ndarray:
        unit = np.atleast_2d(unit)
        columns = []
        for d, n in enumerate(self._plan):
            if n:
                index = np.minimum(np.floor(unit[:, d] * n), n - 1)
                columns.append((index[:, None] == np.arange(n)[None, :]).astype(float))
            else:
                columns.append(unit[:, d : d + 1])
        return np.hstack(columns)


class _Scaled:
    """The pooled copula GP's mean, ``offset + scale * mean``, fitted to the target's values.

    ``scale`` in [0, 1] is the least-squares slope (with an intercept) of the target's copula
    values on the pooled mean, shrunk towards 1 by ``_COPULA_SHRINK``: the history counts
    fully until the target's own trials say otherwise, and not at all once they contradict it.
    """

    def __init__(self, model: GaussianProcessRegressor) -> None:
        self.model = model
        self.scale, self.offset = 1.0, 0.0

    def fit(self, x: np.ndarray, z: np.ndarray) -> None:
        m = _mean(self.model, x)
        mc, zc = m - m.mean(), z - z.mean()
        self.scale = float(np.clip((zc @ mc + _COPULA_SHRINK) / (mc @ mc + _COPULA_SHRINK), 0.0, 1.0))
        self.offset = float(z.mean() - self.scale * m.mean())

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.offset + self.scale * _mean(self.model, x)


def _log_h(z: np.ndarray) -> np.ndarray:
    """``log(z * Phi(z) + phi(z))``, the log of expected improvement per standard deviation.

    Direct evaluation underflows to ``log(0)`` below ``z ~ -38``; there the asymptotic
    ``log(phi(z)) - 2 log|z|`` (Mills ratio) is used, so a cost factor can still rank
    candidates whose improvement is tiny.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    safe = z > -25
    zs = z[safe]
    out[safe] = np.log(np.maximum(zs * special.ndtr(zs) + np.exp(-0.5 * zs**2) / np.sqrt(2 * np.pi), 1e-300))
    zt = z[~safe]
    out[~safe] = -0.5 * zt**2 - 0.5 * np.log(2 * np.pi) - 2 * np.log(-zt)
    return out


def _kernel(name: str, dim: int) -> Kernel:
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

    scales = np.full(dim, 0.5)
    bounds = (5e-2, 2e1)  # in unit-cube coordinates; shorter scales only overfit a few trials
    base = Matern(scales, bounds, nu=2.5) if name == "matern" else RBF(scales, bounds)
    return ConstantKernel(1.0, (5e-2, 2e1)) * base + WhiteKernel(1e-2, (1e-6, 1.0))


def _fit_gp(x: np.ndarray, y: np.ndarray, kernel: Kernel, iterations: int) -> GaussianProcessRegressor:
    """A GP on standardized targets; ``iterations=0`` keeps the kernel's hyperparameters."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor

    optimizer = _lbfgs(iterations) if iterations else None
    gp = GaussianProcessRegressor(kernel, optimizer=optimizer, normalize_y=False, copy_X_train=False)
    with warnings.catch_warnings():
        # Length scales at their upper bound mark irrelevant inputs: expected, not a problem.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    return gp


def _lbfgs(iterations: int) -> Callable[..., tuple[np.ndarray, float]]:
    """scikit-learn's L-BFGS-B hyperparameter search, capped at ``iterations`` (warm starts converge fast)."""

    def optimize(objective: Any, initial: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
        from scipy.optimize import minimize

        result = minimize(
            objective, initial, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": iterations}
        )
        return result.x, float(result.fun)

    return optimize


def _posterior(
    x: np.ndarray,
    members: Sequence[tuple[GaussianProcessRegressor, float]],
    prior_mean: _Scaled | None,
    *,
    cov: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble's mean ``sum w_i mu_i`` (plus the prior mean) and (co)variance ``sum w_i^2 S_i``."""
    mean = np.zeros(len(x)) if prior_mean is None else prior_mean.predict(x)
    spread = np.zeros((len(x), len(x))) if cov else np.zeros(len(x))
    for gp, w in members:
        if cov:
            m, s = gp.predict(x, return_cov=True)
            spread += w**2 * s
        else:
            m, s = gp.predict(x, return_std=True)
            spread += w**2 * s**2
        mean += w * m
    return mean, spread


def _mean(gp: GaussianProcessRegressor, x: np.ndarray) -> np.ndarray:
    """The GP's posterior mean at ``x`` (``predict`` without its input checks, which cost 4x more here)."""
    return np.asarray(gp.kernel_(x, gp.X_train_) @ gp.alpha_).ravel()


def _leave_one_out(gp: GaussianProcessRegressor, y: np.ndarray) -> np.ndarray:
    """The GP's leave-one-out means at its training points, in closed form (same hyperparameters)."""
    inverse_factor = linalg.solve_triangular(gp.L_, np.eye(len(y)), lower=True)
    diagonal = (inverse_factor**2).sum(axis=0)  # diag of (K + noise)^-1
    return np.asarray(y - gp.alpha_.ravel() / diagonal)


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """A factor ``L`` with ``L L^T ~ cov``, with growing jitter for near-singular matrices."""
    jitter = 1e-10 * max(float(np.mean(np.diag(cov))), 1e-12)
    for _ in range(6):
        try:
            return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            jitter *= 100
    return np.diag(np.sqrt(np.maximum(np.diag(cov), 0.0)))


def _copula(values: np.ndarray) -> np.ndarray:
    """Normal quantiles of the values' ranks (ties share their mean rank; +inf ranks last)."""
    ranks = stats.rankdata(values)
    return np.asarray(special.ndtri((ranks - 0.5) / len(values)))


def _subsample(task: TaskHistory, size: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices: the task's best fifth of ``size`` and a random sample of the rest, in row order."""
    order = np.argsort(task.loss, kind="stable")
    if len(order) <= size:
        return np.arange(len(order))
    n_best = max(1, size // 5)
    rest = rng.choice(order[n_best:], size - n_best, replace=False)
    return np.sort(np.concatenate([order[:n_best], rest]))


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS on one thread while the GPs work.

    Their matrices are small, and extra threads only contend with Tune's trials for the
    cores (tens of times slower on a busy machine).
    """
    limiter: AbstractContextManager[Any] = _threadpools().limit(limits=1, user_api="blas")
    return limiter
