"""ControllerSearcher: a policy network that writes configs and learns by REINFORCE ("learning to search").

References:
    Zoph and Le, Neural architecture search with reinforcement learning, ICLR 2017 (an
    autoregressive controller trained by REINFORCE with a moving-average baseline).
    Williams, Simple statistical gradient-following algorithms for connectionist
    reinforcement learning, Machine Learning 8, 1992 (REINFORCE).
    Chen et al., Learning to learn without gradient descent by gradient descent, ICML 2017
    (a searcher meta-trained on related functions).
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from typing import Any, Literal

import numpy as np
import torch

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior
from meta_tune.searchers._base import Observation
from meta_tune.searchers._transfer import TransferConfig, TransferSearcher, check_config
from meta_tune.space import CategoricalParam, FloatParam, IntParam, Param, SearchSpace

logger = logging.getLogger(__name__)

Reward = Literal["rank", "zscore"]
Baseline = Literal["moving_average", "critic"]

#: Policies pretrained on a prior, per prior object and settings: the same prior always gives
#: the same start (pretraining is seeded by the prior's own seed), so runs that share a prior
#: (a benchmark's seeds and tasks) pretrain once.
_PRETRAINED: weakref.WeakKeyDictionary[Prior, dict[tuple[Any, ...], dict[str, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)
#: Configs drawn per surrogate REINFORCE step of the pretraining.
SURROGATE_BATCH = 64
#: Configs per behaviour-cloning step (drawn from the training tasks' best, by task weight).
CLONE_BATCH = 256


@dataclass(frozen=True)
class ControllerConfig(TransferConfig):
    """Settings of :class:`ControllerSearcher`.

    The portfolio and cost settings (``max_portfolio``, ``weights_every``, ``let_go``,
    ``uniform_slot``, ``cost_aware``) are :class:`TransferConfig`'s; the controller's own
    draws are not cost-aware.

    Attributes:
        bins: Bins of a numeric parameter's head (fewer when its grid has fewer values, so an
            integer's bins are its values); a value is drawn uniformly inside its bin.
        hidden: Width of the policy's two hidden layers.
        batch_size: Finished trials between two policy updates (Tune asks for several
            configs before any finishes; every suggestion samples the current policy).
        update_steps: Gradient (SGD) steps per update.
        learning_rate: Step size of the updates.
        pretrain_learning_rate: Adam's step size in pretraining.
        replay: Each update trains on this many latest finished trials (all finished ones
            when fewer), rewarded against all of them.
        reward: ``"rank"``: 1 for the task's best trial down to -1 for its worst;
            ``"zscore"``: the standardized metric (clipped to +-3). Failed trials get the
            lowest reward.
        baseline: ``"moving_average"``: the advantage is the reward minus an exponential
            moving average of the rewards of the trials finished batch by batch;
            ``"critic"``: minus a value head's estimate at each step (actor-critic).
        baseline_decay: Weight of the old average at each batch.
        entropy: Weight of the policy's mean entropy in updates (keeps it exploring).
        clone_steps: Pretraining by behaviour cloning: Adam steps fitting the policy to every
            training task's best configs (the prior's top quantile), tasks weighted by the
            prior's meta-feature weights (0: no cloning).
        surrogate_steps: Pretraining by REINFORCE against the prior's per-task surrogates,
            after the cloning, on the weighted mean normalized regret over the training
            tasks (0: none).
        pretrain_entropy: Weight of the mean entropy in pretraining (a policy cloned onto a
            few configs per task would otherwise be nearly deterministic).
    """

    bins: int = 16
    hidden: int = 64
    batch_size: int = 4
    update_steps: int = 5
    learning_rate: float = 0.3
    pretrain_learning_rate: float = 0.01
    replay: int = 64
    reward: Reward = "rank"
    baseline: Baseline = "moving_average"
    baseline_decay: float = 0.7
    entropy: float = 0.01
    clone_steps: int = 150
    surrogate_steps: int = 30
    pretrain_entropy: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.reward not in ("rank", "zscore"):
            raise InvalidConfigError(f"{name}.reward must be 'rank' or 'zscore', got {self.reward!r}")
        if self.baseline not in ("moving_average", "critic"):
            raise InvalidConfigError(
                f"{name}.baseline must be 'moving_average' or 'critic', got {self.baseline!r}"
            )
        checks = {
            "bins": self.bins >= 2,
            "hidden": self.hidden >= 1,
            "batch_size": self.batch_size >= 1,
            "update_steps": self.update_steps >= 0,
            "learning_rate": self.learning_rate > 0,
            "pretrain_learning_rate": self.pretrain_learning_rate > 0,
            "replay": self.replay >= 1,
            "baseline_decay": 0 <= self.baseline_decay < 1,
            "entropy": self.entropy >= 0,
            "clone_steps": self.clone_steps >= 0,
            "surrogate_steps": self.surrogate_steps >= 0,
            "pretrain_entropy": self.pretrain_entropy >= 0,
        }
        for option, ok in checks.items():
            if not ok:
                raise InvalidConfigError(
                    f"{name}.{option}={getattr(self, option)!r} is out of range (bins >= 2, hidden, "
                    "batch_size, replay >= 1, learning_rate > 0, 0 <= baseline_decay < 1, the step "
                    "counts and entropy weights >= 0)."
                )


class ControllerSearcher(TransferSearcher):
    """A Ray Tune searcher whose configs come from a policy network trained by REINFORCE.

    The policy writes a config one hyperparameter at a time (categoricals first, parents
    before the parameters they switch on; inactive ones are skipped), each from a softmax
    head conditioned on what it wrote so far. Numeric parameters are **bins** of meta-tune's
    unit-cube encoding (then uniform inside the bin), not a squashed Gaussian: the history's
    good regions differ between tasks, and bins can hold several modes where one Gaussian
    would settle between them; a uniform policy is then exactly random search, and its
    entropy is exact. Every ``batch_size`` finished trials it takes a few REINFORCE steps on
    the latest trials, rewarded by their rank (or z-score) among the task's own trials, minus
    a moving-average baseline (or a critic), plus an entropy bonus.

    **Meta-learned start**: with a prior the policy is first cloned onto the training tasks'
    best configs, then trained by REINFORCE against the prior's per-task surrogates (a few
    seconds on one CPU thread, seeded by the prior). Without one it starts uniform. The
    portfolio (:class:`TransferSearcher`) is served first either way, and its results train
    the policy like its own draws.

    Example:
        >>> prior = meta_tune.priors.fit(history, space=param_space, metric="acc", mode="max")
        >>> searcher = ControllerSearcher(prior=prior, metric="acc", mode="max", seed=0)
        >>> tune.Tuner(train, param_space=param_space,
        ...            tune_config=tune.TuneConfig(search_alg=searcher, max_concurrent_trials=4))

    References:
        Zoph and Le, NAS with reinforcement learning, ICLR 2017; Williams, REINFORCE, 1992.
    """

    _follows_weights = False
    _without_prior = "a policy network that starts uniform (random search) and learns by REINFORCE"

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
        config: ControllerConfig | None = None,
    ) -> None:
        check_config(config, ControllerConfig)
        self._config: ControllerConfig
        self._policy: _Policy | None = None
        self._baseline: float | None = None
        self._trained_n = 0
        super().__init__(
            space,
            prior=prior,
            history=history,
            config=config or ControllerConfig(),
            metric=metric,
            mode=mode,
            points_to_evaluate=points_to_evaluate,
            seed=seed,
        )

    # ------------------------------------------------------------------ hooks
    def _on_space(self) -> None:
        super()._on_space()
        self._policy = None  # built at first use: the prior may still be fitted from history=

    def _continue(self) -> dict[str, Any]:
        policy = self._ensure_policy()
        config: dict[str, Any] = {}
        for _ in range(20):  # resample a config that was already tried (small discrete spaces)
            config = self.space.decode(policy.sample(1, self._rng).unit[0], "ordinal")
            if not self._seen(config):
                break
        return config

    def _observe(self, observation: Observation) -> None:
        super()._observe(observation)
        if len(self._observations) - self._trained_n >= self._config.batch_size:
            self._update()

    def _extra_state(self) -> dict[str, Any]:
        return {
            **super()._extra_state(),
            "policy": None if self._policy is None else self._policy.to_state(),
            "baseline": self._baseline,
            "trained_n": self._trained_n,
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        self._policy = None
        if state["policy"] is not None:
            self._policy = _Policy(self.space, self._config, np.random.default_rng(0))
            self._policy.load_state(state["policy"])
        self._baseline, self._trained_n = state["baseline"], state["trained_n"]

    # ------------------------------------------------------------------ learning
    def _ensure_policy(self) -> _Policy:
        if self._policy is None:
            self._policy = _start_policy(self.space, self._config, self._prior, self._seed)
        return self._policy

    def _update(self) -> None:
        """One REINFORCE update on the latest finished trials (``batch_size`` new ones at least)."""
        policy, cfg = self._ensure_policy(), self._config
        observations = self._observations
        rewards = rewards_of([o.value for o in observations], cfg.reward)
        fresh = float(rewards[self._trained_n :].mean())
        self._baseline = (
            fresh
            if self._baseline is None
            else (cfg.baseline_decay * self._baseline + (1.0 - cfg.baseline_decay) * fresh)
        )
        self._trained_n = len(observations)
        window = observations[-cfg.replay :]
        configs = [o.config for o in window]
        unit = self.space.encode_many(configs, "ordinal")
        active = np.array([policy.active_mask(set(self.space.active_names(c))) for c in configs])
        policy.reinforce(unit, active, rewards[-cfg.replay :], baseline=self._baseline)
        logger.debug(
            "%s: policy update on %d trials (baseline %.3f, entropy %.3f)",
            type(self).__name__,
            len(window),
            self._baseline,
            policy.last_entropy,
        )


def rewards_of(values: Sequence[float | None], kind: Reward) -> np.ndarray:
    """Each trial's reward from its loss (lower is better; None: failed), normalized over the task's trials.

    ``"rank"``: 1 for the best down to -1 for the worst (ties share their mean rank; failed
    trials rank below every finished one); ``"zscore"``: the standardized negative loss,
    clipped to [-3, 3], and a failed trial one below the worst finished one.
    """
    loss = np.array([math.inf if v is None else v for v in values], dtype=float)
    ok = np.isfinite(loss)
    if kind == "rank":
        if len(loss) == 1:
            return np.zeros(1)
        order = np.argsort(loss, kind="stable")
        ranks = np.empty(len(loss))
        ranks[order] = np.arange(len(loss), dtype=float)
        for value in np.unique(loss):  # ties share their mean rank
            tied = loss == value
            ranks[tied] = ranks[tied].mean()
        return 1.0 - 2.0 * ranks / (len(loss) - 1)
    out = np.full(len(loss), -1.0)
    if ok.any():
        good = loss[ok]
        std = float(good.std())
        out[ok] = np.clip((good.mean() - good) / std, -3.0, 3.0) if std > 0 else 0.0
        out[~ok] = out[ok].min() - 1.0
    return out


# ---------------------------------------------------------------------- the policy
@dataclass(frozen=True)
class _Draws:
    """Configs drawn from the policy: unit-cube points (space order) and per-step bins and activity."""

    unit: np.ndarray
    bins: np.ndarray
    active: np.ndarray


class _Policy:
    """The autoregressive policy: an MLP over (what was written so far, which step) with one head per step.

    Steps emit the space's parameters in :attr:`order` (categoricals first, shallow before
    deep, so a parameter's switch is written before it). The input of step ``t`` is the
    unit values of steps ``< t`` (scaled to [-1, 1]), their mask and the one-hot of ``t``;
    the output layer holds every step's logits (and a value for the critic), and starts at
    zero, so a fresh policy is uniform over the cube. Weights are float32 tensors; every
    random choice is the caller's numpy generator, so the policy holds no RNG state.
    """

    def __init__(self, space: SearchSpace, config: ControllerConfig, rng: np.random.Generator) -> None:
        self.space, self.config = space, config
        params = space.params
        self.order = sorted(
            range(len(params)),
            key=lambda d: (not isinstance(params[d], CategoricalParam), params[d].name.count("/"), d),
        )
        self.names = [params[d].name for d in self.order]
        self.categorical = [isinstance(params[d], CategoricalParam) for d in self.order]
        sizes_aligned = [_bins(params[d], config.bins) for d in self.order]
        self.sizes = [k for k, _ in sizes_aligned]
        self.centred = [c for _, c in sizes_aligned]  # a bin is one value: draw its centre
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        categoricals = [p.name for p in params if isinstance(p, CategoricalParam)]
        self.conditional = [any(n.startswith(c + "/") for c in categoricals) for n in self.names]
        steps, hidden = len(self.order), config.hidden
        d_in = 3 * steps

        def init(fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
            return rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape)

        arrays = {
            "w1": init(d_in, (d_in, hidden)),
            "b1": np.zeros(hidden),
            "w2": init(hidden, (hidden, hidden)),
            "b2": np.zeros(hidden),
            "wo": np.zeros((hidden, int(self.offsets[-1]))),
            "bo": np.zeros(int(self.offsets[-1])),
            "wv": np.zeros((hidden, 1)),
            "bv": np.zeros(1),
        }
        self.weights = {
            k: torch.tensor(v, dtype=torch.float32, requires_grad=True) for k, v in arrays.items()
        }
        # The heads read the hidden layer scaled by 1/sqrt(width): a gradient step then moves
        # a logit by about the step size, not by the width times it (which collapsed the policy
        # within 20 trials on rbv2_rpart).
        self.scale = 1.0 / math.sqrt(hidden)
        self.last_entropy = float("nan")

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """The weights as nested lists (float32 values are exact as JSON floats)."""
        return {k: w.detach().numpy().tolist() for k, w in self.weights.items()}

    def load_state(self, state: Mapping[str, Any]) -> None:
        for k, w in self.weights.items():
            value = torch.tensor(np.asarray(state[k], dtype=np.float32))
            if value.shape != w.shape:
                raise InvalidConfigError(
                    f"The saved controller policy's {k} has shape {tuple(value.shape)}, not "
                    f"{tuple(w.shape)}: it was saved for another search space or ControllerConfig "
                    "(bins, hidden)."
                )
            with torch.no_grad():
                w.copy_(value)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: w.detach().numpy().copy() for k, w in self.weights.items()}

    def load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        with torch.no_grad():
            for k, w in self.weights.items():
                w.copy_(torch.from_numpy(arrays[k]))

    # ------------------------------------------------------------------ network
    def _hidden(self, features: torch.Tensor) -> torch.Tensor:
        w = self.weights
        return torch.tanh(torch.tanh(features @ w["w1"] + w["b1"]) @ w["w2"] + w["b2"])

    def _head(self, hidden: torch.Tensor, step: int) -> torch.Tensor:
        """Step ``step``'s logits from the hidden layer."""
        lo, hi = int(self.offsets[step]), int(self.offsets[step + 1])
        return hidden @ self.weights["wo"][:, lo:hi] * self.scale + self.weights["bo"][lo:hi]

    def _features(self, z: np.ndarray, step: int) -> np.ndarray:
        """Step ``step``'s input for rows whose emitted values are ``z`` (steps order)."""
        n, steps = z.shape
        mask = np.zeros((n, steps))
        mask[:, :step] = 1.0
        onehot = np.zeros((n, steps))
        onehot[:, step] = 1.0
        return np.concatenate([(2.0 * z - 1.0) * mask, mask, onehot], axis=1)

    def bins_of(self, z: np.ndarray) -> np.ndarray:
        """The bin of each emitted value (steps order), as the heads see it."""
        sizes = np.asarray(self.sizes)
        return np.clip(np.floor(np.clip(z, 0.0, 1.0) * sizes), 0, sizes - 1).astype(np.int64)

    def active_mask(self, active_names: set[str]) -> np.ndarray:
        """Which steps a config with these active parameters used."""
        return np.array([n in active_names for n in self.names])

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator) -> _Draws:
        """Draw ``n`` configs step by step (inactive parameters are skipped and encode as 0.5)."""
        steps = len(self.order)
        z = np.full((n, steps), 0.5)
        bins = np.zeros((n, steps), dtype=np.int64)
        active = np.ones((n, steps), dtype=bool)
        checked_at = -1
        live: list[set[str]] = []
        with _one_thread(), torch.no_grad():
            for t in range(steps):
                if self.conditional[t]:
                    assigned = sum(self.categorical[:t])
                    if assigned != checked_at:  # the switches written so far decide what is active
                        configs = self.space.decode_many(self._unit(z), "ordinal")
                        live = [set(self.space.active_names(c)) for c in configs]
                        checked_at = assigned
                    active[:, t] = [self.names[t] in names for names in live]
                features = torch.tensor(self._features(z, t), dtype=torch.float32)
                probs = torch.softmax(self._head(self._hidden(features), t), dim=1).numpy().astype(float)
                cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
                drawn = np.minimum((cumulative < rng.random(n)[:, None]).sum(axis=1), self.sizes[t] - 1)
                inside = rng.random(n)
                offset = 0.5 if self.centred[t] else inside
                value = (drawn + offset) / self.sizes[t]
                z[:, t] = np.where(active[:, t], value, 0.5)
                bins[:, t] = drawn
        return _Draws(unit=self._unit(z), bins=bins, active=active)

    def _unit(self, z: np.ndarray) -> np.ndarray:
        """Emitted values (steps order) as unit-cube points (the space's order)."""
        unit = np.empty_like(z)
        unit[:, self.order] = z
        return unit

    # ------------------------------------------------------------------ training
    def _log_probs(
        self, z: np.ndarray, active: np.ndarray, bins: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per (row, step): the log-probability of the emitted bin, the head's entropy and the value."""
        steps = z.shape[1]
        features = np.stack([self._features(z, t) for t in range(steps)], axis=1)
        hidden = self._hidden(torch.tensor(features, dtype=torch.float32))  # (n, steps, hidden)
        value = (hidden @ self.weights["wv"] * self.scale + self.weights["bv"])[..., 0]
        chosen = torch.from_numpy(self.bins_of(z) if bins is None else bins)
        logp, entropy = [], []
        for t in range(steps):
            lp = torch.log_softmax(self._head(hidden[:, t], t), dim=1)
            logp.append(lp.gather(1, chosen[:, t : t + 1])[:, 0])
            entropy.append(-(lp.exp() * lp).sum(dim=1))
        mask = torch.from_numpy(active.astype(np.float32))
        return torch.stack(logp, dim=1) * mask, torch.stack(entropy, dim=1) * mask, value

    def _optimizer(self) -> torch.optim.Adam:
        """Pretraining's optimizer (its objectives are well defined: Adam's normalized steps suit them)."""
        return torch.optim.Adam(list(self.weights.values()), lr=self.config.pretrain_learning_rate)

    def reinforce(
        self, unit: np.ndarray, active: np.ndarray, rewards: np.ndarray, *, baseline: float
    ) -> None:
        """``update_steps`` Adam steps of REINFORCE on configs (unit cube, space order) and their rewards.

        Plain gradient steps, so that a step is as large as the evidence: Adam's steps are
        about ``lr`` whatever the signal, and on a few noisy early rewards they drove the
        policy into a poor region (rbv2_rpart, 6 tasks x 2 seeds: regret 0.12 after 100
        trials, random search 0.04). SGD keeps no state: the weights are the policy's whole state.
        """
        cfg = self.config
        z = np.asarray(unit, dtype=float)[:, self.order]
        r = torch.tensor(rewards, dtype=torch.float32)
        mask = torch.from_numpy(active.astype(np.float32))
        n_active = mask.sum().clamp(min=1.0)
        with _one_thread():
            optimizer = torch.optim.SGD(list(self.weights.values()), lr=cfg.learning_rate)
            for _ in range(cfg.update_steps):
                logp, entropy, value = self._log_probs(z, active)
                if cfg.baseline == "critic":
                    advantage = (r[:, None] - value).detach() * mask
                    critic_loss = (((value - r[:, None]) * mask) ** 2).sum() / n_active
                    loss = -(advantage * logp).sum() / len(r) + critic_loss
                else:
                    loss = -((r - baseline)[:, None] * logp).sum() / len(r)
                mean_entropy = entropy.sum() / len(r)  # the config's entropy: the sum of its steps'
                loss = loss - cfg.entropy * mean_entropy
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                self.last_entropy = float(mean_entropy.detach())

    def clone(
        self, unit: np.ndarray, known: np.ndarray, weights: np.ndarray, steps: int, rng: np.random.Generator
    ) -> None:
        """Behaviour cloning: maximize the weighted likelihood of configs, plus an entropy bonus.

        Each step fits a minibatch of :data:`CLONE_BATCH` configs drawn by their weights.
        """
        z_all = np.asarray(unit, dtype=float)[:, self.order]
        active_all = np.asarray(known, dtype=bool)[:, self.order]
        p = weights / weights.sum()
        optimizer = self._optimizer()
        for _ in range(steps):
            rows = rng.choice(len(p), size=min(CLONE_BATCH, len(p)), p=p)
            z, active = z_all[rows], active_all[rows]
            logp, entropy, _ = self._log_probs(z, active)
            loss = -(logp.sum() + self.config.pretrain_entropy * entropy.sum()) / len(rows)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def reinforce_surrogates(self, prior: Prior, rng: np.random.Generator, steps: int) -> None:
        """REINFORCE against the prior's per-task surrogates (reward: minus the weighted mean regret)."""
        tasks = prior.tasks
        low = np.array([t.loss.min() for t in tasks])
        span = np.array([max(float(t.loss.max() - t.loss.min()), 1e-12) for t in tasks])
        task_weights = prior.task_weights().tasks
        surrogates = prior._surrogates  # the prior's per-task models, read-only
        optimizer = self._optimizer()
        for _ in range(steps):
            draws = self.sample(SURROGATE_BATCH, rng)
            predicted = np.column_stack([m.predict(draws.unit) for m in surrogates])
            score = -(((predicted - low) / span) @ task_weights)
            advantage = torch.tensor((score - score.mean()) / (score.std() + 1e-12), dtype=torch.float32)
            z = draws.unit[:, self.order]
            logp, entropy, _ = self._log_probs(z, draws.active, draws.bins)
            loss = -((advantage[:, None] * logp).sum() + self.config.pretrain_entropy * entropy.sum())
            loss = loss / len(advantage)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def _bins(param: Param, bins: int) -> tuple[int, bool]:
    """A parameter's head size, and whether each bin is exactly one value of its grid."""
    if isinstance(param, CategoricalParam):
        return param.n, True
    values = None
    if isinstance(param, IntParam):
        values = param.upper // param.q - param.lower // param.q + 1
    elif isinstance(param, FloatParam) and param.q is not None:
        values = round(param.upper / param.q) - round(param.lower / param.q) + 1
    if values is not None and values <= bins:
        return max(1, values), True
    return bins, False


def _start_policy(space: SearchSpace, config: ControllerConfig, prior: Prior | None, seed: int) -> _Policy:
    """The policy a searcher starts from: uniform, or pretrained on the prior (memoized per prior)."""
    if prior is None:
        return _Policy(space, config, np.random.default_rng([seed, 1]))
    policy = _Policy(space, config, np.random.default_rng([prior.config.seed, 1]))
    if config.clone_steps == 0 and config.surrogate_steps == 0:
        return policy
    key = (space.fingerprint, astuple(config))
    cached = _PRETRAINED.setdefault(prior, {})
    if key not in cached:
        with _one_thread():
            tasks = prior.tasks
            weights = prior.task_weights().tasks
            tops = [t.top(prior.config.top_quantile, prior.config.min_top) for t in tasks]
            unit = np.concatenate([t.unit[top] for t, top in zip(tasks, tops)])
            known = np.concatenate([t.known[top] for t, top in zip(tasks, tops)])
            row_weights = np.concatenate([np.full(len(top), w / len(top)) for top, w in zip(tops, weights)])
            if config.clone_steps:
                policy.clone(
                    unit,
                    known,
                    row_weights + 1e-12,
                    config.clone_steps,
                    np.random.default_rng([prior.config.seed, 3]),
                )
            if config.surrogate_steps:
                policy.reinforce_surrogates(
                    prior, np.random.default_rng([prior.config.seed, 2]), config.surrogate_steps
                )
        cached[key] = policy.arrays()
        logger.info(
            "ControllerSearcher: policy pretrained on %d training tasks (%d cloning steps on %d configs, "
            "%d surrogate steps).",
            len(tasks),
            config.clone_steps,
            len(unit),
            config.surrogate_steps,
        )
    policy.load_arrays(cached[key])
    return policy


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread (deterministic and polite on shared CPUs), then restore the setting."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)
