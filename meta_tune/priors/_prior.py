"""The fitted prior: portfolio, density, bounds and task similarity for one target space."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from meta_tune._io import atomic_write
from meta_tune.errors import EmptyHistoryError, InvalidConfigError
from meta_tune.priors._cost import CostModel, CostObservation
from meta_tune.priors._density import MixtureDensity
from meta_tune.priors._history import TaskHistory, meta_features, read_history
from meta_tune.priors._portfolio import cost_matrix, fit_surrogates, greedy_portfolio, regret_matrix
from meta_tune.priors._similarity import (
    MAX_RANKED_OBSERVATIONS,
    TaskWeights,
    meta_feature_weights,
    ranking_weights,
)
from meta_tune.priors._trees import TreeEnsemble
from meta_tune.space import CategoricalParam, SearchSpace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

_FORMAT = 3
_READABLE_FORMATS = (1, 2, 3)  # format 1: no runtimes; format 3: a checksum
#: What reading a damaged or incomplete prior raises, besides InvalidConfigError.
_DAMAGED = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,  # zipfile: a damaged flag byte reads as "encrypted"
    NotImplementedError,  # zipfile: a damaged byte names an unknown compression
)


@dataclass(frozen=True)
class PriorConfig:
    """Settings of :func:`fit`.

    Attributes:
        portfolio_size: Configs in the zero-shot portfolio.
        top_quantile: Share of each task's best trials the density is built on.
        min_top: At least this many trials per task enter the density.
        candidates_per_task: Each task's best trials that compete for the portfolio.
        bounds_margin: Widening of the learned box on each side, in unit-cube coordinates.
        category_noise: Probability that the density redraws a categorical uniformly.
        portfolio_objective: What the portfolio is chosen for: ``"time"``, the regret
            reduction per expected second over the training tasks (anytime performance in
            wall-clock); ``"trials"``, the regret after each trial; ``"auto"``, time when
            the history has runtimes (``runtime_s`` or ``time_total_s``), else trials.
        trial_overhead: Cost of starting a trial (scheduling, start-up), in runtimes of a
            typical config; with ``"time"``, it keeps a very cheap but poor config from
            looking free.
        cost_exponent: With ``"time"``, each pick's regret reduction is divided by its
            expected cost (plus ``trial_overhead``) to this power, in [0, 1]: 1 (the
            default) is the per-second greedy rule; 0 picks as ``"trials"`` does; between
            them, a cheap config must promise more to come first.
        portfolio_risk: Pessimism of the portfolio about predicted regrets, ``>= 0``: a
            candidate scores, on each training task it was not observed on, the task
            surrogate's mean regret plus ``portfolio_risk`` times the spread (standard
            deviation) of its trees, clipped to [0, 1]. 0 (the default) uses the mean. A
            positive value puts configs next to a cliff of the training tasks (e.g. a
            learning rate past which some runs diverge) later in the portfolio. The costs
            stay the expected ones: a diverging run takes as long as a converging one.
            Off by default: with the shipped image history, 4 raised the first trial's mean
            accuracy on held-out tasks from 0.70 to 0.86 (2: 0.79), and no first trial
            diverged. On YAHPO rbv2_rpart, 3 or 4 made the first trial's regret worse on 9
            of 10 tasks (docs/benchmarks.md, "Risk-aware portfolio").
        seed: Seed of the surrogates and of every random choice in fitting.
    """

    portfolio_size: int = 16
    top_quantile: float = 0.15
    min_top: int = 3
    candidates_per_task: int = 8
    bounds_margin: float = 0.05
    category_noise: float = 0.2
    portfolio_objective: Literal["auto", "time", "trials"] = "auto"
    trial_overhead: float = 0.1
    cost_exponent: float = 1.0
    portfolio_risk: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.portfolio_objective not in ("auto", "time", "trials"):
            raise InvalidConfigError(
                f"Prior option portfolio_objective={self.portfolio_objective!r} is not one of "
                "'auto', 'time', 'trials'."
            )
        checks = {
            "portfolio_size": self.portfolio_size >= 1,
            "top_quantile": 0 < self.top_quantile <= 1,
            "min_top": self.min_top >= 1,
            "candidates_per_task": self.candidates_per_task >= 1,
            "bounds_margin": 0 <= self.bounds_margin <= 1,
            "category_noise": 0 <= self.category_noise <= 1,
            "trial_overhead": self.trial_overhead >= 0,
            "cost_exponent": 0 <= self.cost_exponent <= 1,
            "portfolio_risk": 0 <= self.portfolio_risk < float("inf"),
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidConfigError(
                    f"Prior option {name}={getattr(self, name)!r} is out of range; "
                    "see meta_tune.priors.PriorConfig for the accepted values."
                )


class Prior:
    """What earlier tuning runs on related tasks say about a target search space.

    Build it with :func:`meta_tune.priors.fit`. It holds, learned for the target space:
    a greedy zero-shot **portfolio** of configs, a mixture **density** over the training
    tasks' good regions (:meth:`sample`, :meth:`log_density`), the **bounds** of the box
    that holds every task's best config (:meth:`bounded_space`), **task similarity**
    weights updated from the target's own observations (:meth:`task_weights`), and, when
    the history has runtimes, a **cost model** (:meth:`expected_cost`) that the portfolio
    and the searchers use to spend seconds, not trials, well.

    Example:
        >>> prior = meta_tune.priors.fit(history, space=param_space, metric="acc", mode="max")
        >>> prior.portfolio[:3]                      # configs to try first
        >>> prior.expected_cost(prior.portfolio[0])  # seconds, if the history has runtimes
        >>> prior.sample(10, np.random.default_rng(0))
        >>> prior.save("prior.json"); Prior.load("prior.json")

    References:
        Wistuba et al., Sequential model-free hyperparameter tuning, ICDM 2015.
        Perrone et al., Learning search spaces for Bayesian optimization, NeurIPS 2019.
        Feurer et al., Practical transfer learning for Bayesian optimization, 2018 (RGPE).
    """

    def __init__(
        self,
        *,
        space: SearchSpace,
        metric: str,
        mode: Literal["min", "max"],
        tasks: list[TaskHistory],
        config: PriorConfig | None = None,
        target_meta: Mapping[str, float] | None = None,
        portfolio: list[dict[str, Any]] | None = None,
    ) -> None:
        if not tasks:
            raise InvalidConfigError("A prior needs at least one training task with a finished trial.")
        self.space, self.metric, self.mode = space, metric, mode
        self.config = config or PriorConfig()
        self.target_meta = dict(target_meta or {})
        self._tasks = tasks
        self._meta_weights = meta_feature_weights(meta_features(tasks, self.target_meta), len(tasks))
        self._top = [t.top(self.config.top_quantile, self.config.min_top) for t in tasks]
        self._prediction_cache: dict[bytes, np.ndarray] = {}
        self._portfolio = portfolio if portfolio is not None else self._fit_portfolio()

    # ------------------------------------------------------------------ description
    @property
    def task_names(self) -> list[str]:
        """The training tasks, in the order of all per-task arrays."""
        return [t.name for t in self._tasks]

    @property
    def tasks(self) -> tuple[TaskHistory, ...]:
        """Each training task's finished trials in the target space's ordinal encoding.

        In :attr:`task_names` order; ``loss`` is oriented so that lower is better. Model-based
        searchers (``TransferBOSearcher``) fit their per-task models on these.
        """
        return tuple(self._tasks)

    @property
    def portfolio(self) -> list[dict[str, Any]]:
        """The zero-shot portfolio: configs to evaluate first, best-first greedy order."""
        return [dict(c) for c in self._portfolio]

    @cached_property
    def bounds(self) -> dict[str, tuple[float, float] | list[int]]:
        """The box around every training task's best config.

        Numeric parameters map to ``(lo, hi)`` in unit-cube coordinates (widened by
        ``bounds_margin``), categoricals to the sorted indices of the categories used.
        """
        best = np.stack([t.unit[int(np.argmin(t.loss))] for t in self._tasks])
        known = np.stack([t.known[int(np.argmin(t.loss))] for t in self._tasks])
        out: dict[str, tuple[float, float] | list[int]] = {}
        for d, param in enumerate(self.space.params):
            values = best[known[:, d], d]
            if isinstance(param, CategoricalParam):
                out[param.name] = (
                    sorted({int(v) for v in np.floor(values * param.n).clip(max=param.n - 1)})
                    if len(values)
                    else list(range(param.n))
                )
            elif len(values) and param.kind != "normal":
                margin = self.config.bounds_margin
                out[param.name] = (
                    max(0.0, float(values.min()) - margin),
                    min(1.0, float(values.max()) + margin),
                )
        return out

    def bounded_space(self) -> dict[str, Any]:
        """The target ``param_space`` restricted to :attr:`bounds`, for any Tune searcher."""
        numeric = {k: v for k, v in self.bounds.items() if isinstance(v, tuple)}
        categories = {k: v for k, v in self.bounds.items() if isinstance(v, list)}
        return self.space.restrict(numeric, categories).to_tune()

    # ------------------------------------------------------------------ density
    def density(self, weights: TaskWeights | None = None) -> MixtureDensity:
        """The mixture density, with its task weights from ``weights`` (default: meta-features)."""
        task_w = self._meta_weights if weights is None else weights.tasks
        if task_w.sum() <= 0:
            task_w = self._meta_weights
        base = self._base_density
        per_component = np.concatenate([np.full(len(top), w / len(top)) for top, w in zip(self._top, task_w)])
        return base.reweighted(per_component + 1e-12)

    @cached_property
    def _base_density(self) -> MixtureDensity:
        groups = [(t.unit[top], t.known[top]) for t, top in zip(self._tasks, self._top)]
        n_categories = np.array([p.n if isinstance(p, CategoricalParam) else 0 for p in self.space.params])
        return MixtureDensity.fit(
            groups, self._meta_weights, n_categories, category_noise=self.config.category_noise
        )

    def sample(
        self, n: int, rng: np.random.Generator, weights: TaskWeights | None = None
    ) -> list[dict[str, Any]]:
        """Draw ``n`` configs from the density (valid configs of the target space)."""
        return self.space.decode_many(self.density(weights).sample(n, rng), "ordinal")

    def log_density(self, config: Mapping[str, Any], weights: TaskWeights | None = None) -> float:
        """Log density of ``config`` under the prior, relative to the uniform density of the cube."""
        unit = self.space.encode(config, "ordinal")
        return float(self.density(weights).log_pdf(unit[None, :])[0])

    # ------------------------------------------------------------------ similarity
    @cached_property
    def _surrogates(self) -> list[TreeEnsemble]:
        return fit_surrogates(self._tasks, seed=self.config.seed)

    def task_weights(
        self, configs: Sequence[Mapping[str, Any]] = (), values: Sequence[float] = ()
    ) -> TaskWeights:
        """Weights of the training tasks given the target's observations so far.

        Args:
            configs: The target task's evaluated configs.
            values: Their metric values (in the prior's ``mode``); NaN/inf are left out.

        Returns:
            Meta-feature weights while fewer than two observations exist; then RGPE-style
            ranking weights, with the share of "no transfer" in ``.none``.
        """
        values_arr = np.asarray(values, dtype=float)
        if len(configs) != len(values_arr):
            raise InvalidConfigError(f"task_weights(): {len(configs)} configs but {len(values_arr)} values")
        finite = np.isfinite(values_arr)
        if finite.sum() < 2:
            return TaskWeights(tasks=self._meta_weights.copy(), none=0.0)
        loss = values_arr[finite] if self.mode == "min" else -values_arr[finite]
        # ranking_weights reads only the latest observations: predict only those.
        kept = [c for c, ok in zip(configs, finite) if ok][-MAX_RANKED_OBSERVATIONS:]
        predictions = list(self._predict_tasks(self.space.encode_many(kept, "ordinal")).T)
        rng = np.random.default_rng([self.config.seed, len(loss)])
        return ranking_weights(predictions, loss, self._meta_weights, rng)

    def prepare_ranking(self) -> None:
        """Fit the per-task surrogates that :meth:`task_weights` ranks with, if not fitted yet.

        A prior fitted here has them (its portfolio used them); a loaded one fits them at its
        first ranking. Searchers call this when Tune gives them the space, so that no
        ``on_trial_complete`` pays for it (about a second for a hundred tasks).
        """
        _ = self._surrogates

    def _predict_tasks(self, unit: np.ndarray) -> np.ndarray:
        """Every training task's surrogate at each encoded config, ``(n, n_tasks)``, memoized.

        Searchers re-weight tasks as observations come in, over mostly the same configs;
        each config's predictions are computed once.
        """
        cache = self._prediction_cache
        keys = [row.tobytes() for row in unit]
        new = [i for i, key in enumerate(keys) if key not in cache]
        if new:
            fresh = np.column_stack([m.predict(unit[new]) for m in self._surrogates])
            cache.update({keys[i]: row for i, row in zip(new, fresh)})
        return np.array([cache[key] for key in keys]).reshape(len(keys), len(self._surrogates))

    # ------------------------------------------------------------------ cost
    @cached_property
    def cost_model(self) -> CostModel | None:
        """The cost model fitted on the history's runtimes; None when it has too few (cost-blind)."""
        model = CostModel.fit(self._tasks, seed=self.config.seed)
        if model is None:
            logger.info(
                "The history has no runtimes (runtime_s or time_total_s) on two or more tasks: the prior "
                "is cost-blind (portfolio chosen per trial, searchers ignore cost)."
            )
        return model

    def expected_cost(
        self,
        config: Mapping[str, Any],
        *,
        observed: Sequence[tuple[Mapping[str, Any], float, int]] = (),
        steps: int | None = None,
    ) -> float | None:
        """The expected seconds a config takes to train on the target task.

        Args:
            config: A config of the target space.
            observed: The target task's own trials so far as ``(config, time_total_s,
                training_iteration)`` of their last results; they scale the history's
                runtimes to the target task (its machine, its data size).
            steps: Steps (``training_iteration``) of the run; None: the most any observed
                trial ran, else a full run of a typical training task.

        Returns:
            Seconds, or None when the history has no runtimes.
        """
        model = self.cost_model
        if model is None:
            return None
        return float(
            model.seconds(
                self.space.encode(config, "ordinal")[None, :],
                observed=self._cost_observations(observed),
                steps=steps,
            )[0]
        )

    def _cost_observations(
        self, observed: Sequence[tuple[Mapping[str, Any], float | None, int]]
    ) -> list[CostObservation]:
        """``(config, time_total_s, training_iteration)`` triples as the cost model's observations.

        Triples without a positive, finite time are left out.
        """
        out = []
        for config, seconds, steps in observed:
            if seconds is not None and np.isfinite(seconds) and seconds > 0:
                out.append(
                    CostObservation(self.space.encode(config, "ordinal"), float(seconds), max(1, int(steps)))
                )
        return out

    @property
    def portfolio_objective(self) -> Literal["time", "trials"]:
        """What the portfolio was chosen for (``PriorConfig.portfolio_objective`` resolved)."""
        objective = self.config.portfolio_objective
        if objective == "auto":
            return "trials" if self.cost_model is None else "time"
        if objective == "time" and self.cost_model is None:
            return "trials"
        return objective

    # ------------------------------------------------------------------ fitting
    def _fit_portfolio(self) -> list[dict[str, Any]]:
        candidates, sources = [], []
        for t, task in enumerate(self._tasks):
            for row in task.top(1.0, 1)[: self.config.candidates_per_task]:
                candidates.append(task.unit[row])
                sources.append((t, int(row)))
        cand = np.stack(candidates)
        scores = regret_matrix(
            cand, np.array(sources), self._tasks, self._surrogates, risk=self.config.portfolio_risk
        )
        costs = None
        if self.config.portfolio_objective == "time" and self.cost_model is None:
            logger.warning(
                "portfolio_objective='time' but the history has no runtimes: the portfolio is chosen "
                "per trial."
            )
        if self.portfolio_objective == "time":
            assert self.cost_model is not None
            costs = cost_matrix(cand, np.array(sources), self._tasks, self.cost_model)
        chosen = greedy_portfolio(
            scores,
            self.config.portfolio_size,
            self._meta_weights,
            costs,
            overhead=self.config.trial_overhead,
            cost_exponent=self.config.cost_exponent,
        )
        logger.info(
            "Portfolio of %d configs chosen per %s: mean training regret %.4f after the first, "
            "%.4f after all.",
            len(chosen),
            "second" if costs is not None else "trial",
            float(scores[chosen[0]] @ self._meta_weights),
            float(scores[chosen].min(axis=0) @ self._meta_weights),
        )
        return self.space.decode_many(cand[chosen], "ordinal")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the prior to ``path`` (JSON) and its arrays beside it (same name, ``.npz``).

        Both files are written to temporary names first and then renamed, so a crash never
        leaves a half-written prior. Neither holds code: loading one runs nothing.
        """
        path = Path(path)
        document, arrays = self._parts()
        document["checksum"] = _checksum(document, arrays)
        atomic_write(
            path.with_suffix(".npz"), lambda f: np.savez_compressed(f, **cast(dict[str, Any], arrays))
        )
        atomic_write(path, lambda f: f.write(json.dumps(document, indent=1).encode()))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Prior:
        """Read a prior written by :meth:`save` (plain JSON and arrays; nothing is unpickled).

        Raises:
            InvalidConfigError: The files are missing, damaged, incomplete or not a meta-tune
                prior of a known format; the files are left as they are.
        """
        path = Path(path)
        arrays_path = path.with_suffix(".npz")
        try:
            document = json.loads(path.read_text())
            if not isinstance(document, dict) or document.get("format") not in _READABLE_FORMATS:
                raise InvalidConfigError(
                    f"{path} is not a meta-tune prior of format {_FORMAT} (its 'format' is "
                    f"{document.get('format') if isinstance(document, dict) else None!r}); write it with "
                    "Prior.save or meta-tune learn."
                )
            with np.load(arrays_path, allow_pickle=False) as files:
                arrays = {name: files[name] for name in files.files}
            if document["format"] >= 3:
                written = document.pop("checksum", None)
                if written != _checksum(document, arrays):
                    raise InvalidConfigError(
                        f"{path} or {arrays_path} was changed or damaged after it was written (its checksum "
                        "does not match); write it again with Prior.save or meta-tune learn."
                    )
            return cls._from_parts(document, arrays)
        except InvalidConfigError as err:
            if str(path) in str(err):
                raise
            raise InvalidConfigError(f"Cannot read the prior {path} (and {arrays_path}): {err}") from err
        except _DAMAGED as err:
            raise InvalidConfigError(
                f"Cannot read the prior {path} (and {arrays_path}): the files are missing, damaged or "
                f"incomplete ({type(err).__name__}: {err}). Write it again with Prior.save or "
                "meta-tune learn."
            ) from err

    def to_state(self) -> dict[str, Any]:
        """The prior as plain JSON-able data (what :meth:`save` writes, arrays as lists).

        Searchers that fitted their prior themselves keep it in their saved state this way,
        so a restored run continues with the same prior.
        """
        document, arrays = self._parts()
        return {
            **document,
            "arrays": {
                name: {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}
                for name, a in arrays.items()
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Prior:
        """The prior :meth:`to_state` described (plain data; nothing is unpickled).

        Raises:
            InvalidConfigError: The state is not one :meth:`to_state` wrote, or is damaged.
        """
        try:
            arrays = {
                name: np.asarray(a["data"], dtype=np.dtype(a["dtype"])).reshape(a["shape"])
                for name, a in state["arrays"].items()
            }
            if state.get("format") not in _READABLE_FORMATS:
                raise InvalidConfigError(f"its format is {state.get('format')!r}, not {_FORMAT}")
            return cls._from_parts(state, arrays)
        except (InvalidConfigError, *_DAMAGED) as err:
            raise InvalidConfigError(f"This is not the state of a meta-tune prior: {err}") from err

    def _parts(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The JSON document and the arrays that describe the prior."""
        arrays: dict[str, np.ndarray] = {}
        for i, t in enumerate(self._tasks):
            arrays[f"unit_{i}"], arrays[f"known_{i}"], arrays[f"loss_{i}"] = t.unit, t.known, t.loss
            if t.cost is not None:
                arrays[f"cost_{i}"] = t.cost
        document = {
            "format": _FORMAT,
            "space": self.space.to_dict(),
            "metric": self.metric,
            "mode": self.mode,
            "config": asdict(self.config),
            "target_meta": self.target_meta,
            "tasks": [{"name": t.name, "meta": t.meta, "steps": t.steps} for t in self._tasks],
            "portfolio": self._portfolio,
        }
        return document, arrays

    @classmethod
    def _from_parts(cls, document: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Prior:
        """The prior of a document and its arrays, each task's arrays checked against the space."""
        tasks = [
            TaskHistory(
                name=str(t["name"]),
                unit=arrays[f"unit_{i}"],
                known=arrays[f"known_{i}"],
                loss=arrays[f"loss_{i}"],
                meta=dict(t["meta"]),
                cost=arrays.get(f"cost_{i}"),
                steps=int(t.get("steps", 1)),
            )
            for i, t in enumerate(document["tasks"])
        ]
        space = SearchSpace.from_dict(document["space"])
        for task in tasks:
            _check_task_arrays(task, space.dim("ordinal"))
        return cls(
            space=space,
            metric=document["metric"],
            mode=document["mode"],
            tasks=tasks,
            config=PriorConfig(**document["config"]),
            target_meta=document["target_meta"],
            portfolio=document["portfolio"],
        )

    def plot(self, path: str | os.PathLike[str] | None = None, *, n_samples: int = 2000) -> Figure:
        """Save a PNG: per parameter, the prior's samples against each task's best config.

        See :func:`meta_tune.priors._plot.plot_prior`; returns the matplotlib figure.
        """
        from meta_tune.priors._plot import plot_prior

        return plot_prior(self, path, n_samples=n_samples)


def _checksum(document: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of a prior's document and arrays, so that damage to either is noticed on load."""
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _check_task_arrays(task: TaskHistory, dim: int) -> None:
    """A loaded task's arrays must fit each other and the space."""
    n = len(task.loss)
    shapes_ok = (
        task.unit.shape == (n, dim)
        and task.known.shape == (n, dim)
        and task.loss.ndim == 1
        and n >= 1
        and (task.cost is None or task.cost.shape == (n,))
    )
    if not shapes_ok or not np.isfinite(task.loss).all():
        raise InvalidConfigError(
            f"task {task.name!r} has arrays of the wrong shape or non-finite losses (unit {task.unit.shape}, "
            f"known {task.known.shape}, loss {task.loss.shape}; the space has {dim} coordinates)"
        )


def fit(
    history: Any,
    *,
    space: Mapping[str, Any] | SearchSpace,
    metric: str,
    mode: Literal["min", "max"],
    family: str | None = None,
    target_meta: Mapping[str, float] | None = None,
    **options: Any,
) -> Prior:
    """Fit a prior for a target search space from the results of earlier tuning runs.

    Args:
        history: A DataFrame with one row per past trial (a ``task`` column, one column per
            hyperparameter named by its flattened path, the metric column, optionally
            ``trial_id`` + ``training_iteration`` rows per step and ``meta:<name>``
            meta-feature columns), a :class:`meta_tune.store.Store` (its trials of
            ``family``), or the path of a Tune experiment folder (one task; read from its
            plain files with :func:`meta_tune.store.read_experiment`, so a folder from
            someone else runs no code; an ``ExperimentAnalysis`` is read from its folder
            the same way).
        space: The target Tune ``param_space`` (or a :class:`SearchSpace`).
        metric: The metric column.
        mode: ``"min"`` or ``"max"``.
        family: With a store: the task family to learn from (None: every task).
        target_meta: Meta-features of the target task, to weight similar tasks up.
        **options: Fields of :class:`PriorConfig` (``portfolio_size``, ``top_quantile``, ...).

    Returns:
        The fitted prior.

    Raises:
        EmptyHistoryError: The history has no trials (e.g. before the first run of a family).
        InvalidConfigError: Bad history or options.
        IncompatibleSearchSpaceError: The history shares no parameter with ``space``.
    """
    config = PriorConfig(**options)
    target = space if isinstance(space, SearchSpace) else SearchSpace.from_tune(space)
    frame = _history_frame(history, family)
    if frame.empty:
        source = frame.attrs.get("source") or (f"family {family!r}" if family else "the history")
        raise EmptyHistoryError(
            f"There are no past trials to learn a prior from: {source} has none yet. On a first run, "
            "give the history to the searcher instead (e.g. PriorSearcher(history=...)): it searches "
            "without a prior this time. Record the run with StoreCallback(task=..., family=...) so that "
            "the next run learns from it."
        )
    tasks = read_history(frame, target, metric=metric, mode=mode)
    logger.info("Fitting a prior on %d tasks, %d trials.", len(tasks), sum(len(t.loss) for t in tasks))
    return Prior(space=target, metric=metric, mode=mode, tasks=tasks, config=config, target_meta=target_meta)


def _history_frame(history: Any, family: str | None) -> pd.DataFrame:
    if isinstance(history, pd.DataFrame):
        return history
    if hasattr(history, "history") and hasattr(history, "list_tasks"):  # a meta_tune Store
        return history.history(family=family)
    from meta_tune.store import read_experiment

    if isinstance(history, (str, os.PathLike)):  # a Tune experiment folder
        return read_experiment(history)
    if hasattr(history, "experiment_path"):  # a Tune ExperimentAnalysis or ResultGrid: its folder
        return read_experiment(history.experiment_path)
    raise InvalidConfigError(
        f"history must be a pandas DataFrame, a meta_tune Store or the path of a Tune experiment folder "
        f"(or its ExperimentAnalysis), got {type(history).__name__}"
    )
