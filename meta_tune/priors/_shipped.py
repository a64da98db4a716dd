"""Priors that ship with meta-tune: XGBoost, decision trees and MLPs, learned from YAHPO Gym.

Each shipped prior is a compact tuning history in the real library's terms (XGBoost's
``eta``, scikit-learn's ``ccp_alpha``, ...), a parquet file under ``meta_tune/data/priors/``
made by :func:`build` from the YAHPO Gym surrogates (Pfisterer et al., AutoML 2022;
Apache-2.0), plus a prior ready-fitted for the default space. :func:`shipped` returns the
ready prior, or fits one for the user's own search space and parameter names.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.priors._cache import file_sha256, fit_cached
from meta_tune.priors._history import RESERVED_COLUMNS
from meta_tune.priors._prior import Prior, fit
from meta_tune.space import CategoricalParam, FloatParam, IntParam, SearchSpace

logger = logging.getLogger(__name__)

#: Where the shipped histories and ready priors live (inside the installed package).
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "priors"
#: The metric every shipped history records: validation accuracy in [0, 1] (maximize).
METRIC = "accuracy"


@dataclass(frozen=True)
class ShippedParam:
    """One parameter of a shipped prior, in the library's terms.

    Attributes:
        name: The library's name of the parameter (e.g. XGBoost's ``eta``).
        source: The YAHPO Gym parameter it comes from (flattened path).
        kind: ``"float"`` or ``"int"``.
        lower: Lower bound (YAHPO's).
        upper: Upper bound (YAHPO's).
        log: Whether the parameter is searched on a log scale.
        aliases: Other names the library uses for it (e.g. ``learning_rate`` for ``eta``).
        note: How exactly the YAHPO parameter means the library's (empty: exactly).
    """

    name: str
    source: str
    kind: str
    lower: float
    upper: float
    log: bool = False
    aliases: tuple[str, ...] = ()
    note: str = ""

    def domain(self) -> Any:
        """The parameter's default Tune domain."""
        from ray import tune

        if self.kind == "int":
            lo, hi = int(self.lower), int(self.upper)
            return tune.lograndint(lo, hi + 1) if self.log else tune.randint(lo, hi + 1)
        return tune.loguniform(self.lower, self.upper) if self.log else tune.uniform(self.lower, self.upper)


@dataclass(frozen=True)
class ShippedModel:
    """A model family with a shipped prior.

    Attributes:
        name: The name :func:`shipped` takes (``"xgboost"``, ``"decision_tree"``, ``"mlp"``).
        scenario: The YAHPO Gym scenario its history comes from.
        library: The estimator the parameter names belong to.
        description: One line for ``meta-tune priors``.
        params: The parameters, in the library's terms.
        source_metric: The scenario's accuracy output.
        metric_scale: Factor that turns ``source_metric`` into a fraction in [0, 1].
        fixed: YAHPO settings held fixed for every config (flattened paths).
        trials_per_task: Random configs per task in the shipped history.
    """

    name: str
    scenario: str
    library: str
    description: str
    params: tuple[ShippedParam, ...]
    source_metric: str
    metric_scale: float = 1.0
    fixed: Mapping[str, Any] = field(default_factory=dict)
    trials_per_task: int = 64

    def space(self) -> dict[str, Any]:
        """The default Tune search space: every parameter over YAHPO's range."""
        return {p.name: p.domain() for p in self.params}

    def param(self, name: str) -> ShippedParam:
        """The parameter called ``name`` (or by one of its aliases)."""
        for p in self.params:
            if name == p.name or name in p.aliases:
                return p
        raise KeyError(name)

    def to_source(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The YAHPO config (nested) that a config in library terms stands for."""
        from meta_tune.space import unflatten

        flat = {**self.fixed, **{p.source: config[p.name] for p in self.params}}
        return unflatten(flat)


_LOG_E3 = 0.000911881965555  # exp(-7), YAHPO's lower bound of XGBoost's rates and penalties

#: The models with a shipped prior, by name.
MODELS: dict[str, ShippedModel] = {
    m.name: m
    for m in (
        ShippedModel(
            name="xgboost",
            scenario="rbv2_xgboost",
            library="xgboost.train (booster gbtree); XGBClassifier takes the aliases",
            description="XGBoost (gbtree) on 119 OpenML classification tasks",
            params=(
                ShippedParam("eta", "booster/eta", "float", _LOG_E3, 1.0, True, ("learning_rate",)),
                ShippedParam("max_depth", "booster/max_depth", "int", 1, 15),
                ShippedParam("subsample", "subsample", "float", 0.1, 1.0),
                ShippedParam("colsample_bytree", "booster/colsample_bytree", "float", 0.01, 1.0),
                ShippedParam("colsample_bylevel", "booster/colsample_bylevel", "float", 0.01, 1.0),
                ShippedParam("lambda", "lambda", "float", _LOG_E3, 1096.63315843, True, ("reg_lambda",)),
                ShippedParam("alpha", "alpha", "float", _LOG_E3, 1096.63315843, True, ("reg_alpha",)),
                ShippedParam("min_child_weight", "booster/min_child_weight", "float", 2.71828182846,
                             148.413159103, True),
                ShippedParam("gamma", "booster/gamma", "float", 4.53999297625e-05, 7.38905609893, True,
                             ("min_split_loss",)),
                ShippedParam("num_boost_round", "nrounds", "int", 7, 2981, True, ("n_estimators", "nrounds"),
                             note="boosting rounds without early stopping; with early stopping it is "
                             "the most the run may take"),
            ),
            source_metric="acc",
            fixed={"booster/booster": "gbtree", "num.impute.selected.cpo": "impute.median"},
        ),
        ShippedModel(
            name="decision_tree",
            scenario="rbv2_rpart",
            library="sklearn.tree.DecisionTreeClassifier (from R's rpart)",
            description="CART decision trees (rpart) on 117 OpenML classification tasks",
            params=(
                ShippedParam("ccp_alpha", "cp", "float", _LOG_E3, 1.0, True, ("cp",),
                             note="approximate: rpart's cp is relative to the root's error (a split "
                             "must improve the fit by cp times it); ccp_alpha is absolute, in "
                             "impurity units (Gini), so ccp_alpha ~ cp x root impurity"),
                ShippedParam("max_depth", "maxdepth", "int", 1, 30, aliases=("maxdepth",),
                             note="the same (rpart counts the root as depth 0, like scikit-learn)"),
                ShippedParam("min_samples_split", "minsplit", "int", 2, 100, aliases=("minsplit",),
                             note="rpart's minsplit; rpart allows 1, scikit-learn needs at least 2"),
                ShippedParam("min_samples_leaf", "minbucket", "int", 1, 100, aliases=("minbucket",)),
            ),
            source_metric="acc",
            fixed={"num.impute.selected.cpo": "impute.median"},
        ),
        ShippedModel(
            name="mlp",
            scenario="lcbench",
            library="torch MLP trained with SGD (meta_tune.trainables.tabular's 'mlp' model)",
            description="Funnel-shaped MLPs (Auto-PyTorch, LCBench) on 34 OpenML tasks, 50 epochs",
            params=(
                ShippedParam("lr", "learning_rate", "float", 1e-4, 0.1, True, ("learning_rate",),
                             note="SGD's learning rate (LCBench uses SGD with cosine annealing)"),
                ShippedParam("batch_size", "batch_size", "int", 16, 512, True),
                ShippedParam("momentum", "momentum", "float", 0.1, 0.99),
                ShippedParam("weight_decay", "weight_decay", "float", 1e-5, 0.1),
                ShippedParam("num_layers", "num_layers", "int", 1, 5),
                ShippedParam("max_units", "max_units", "int", 64, 1024, True, ("hidden_units",),
                             note="the width of the first layer; later layers shrink linearly (funnel)"),
                ShippedParam("max_dropout", "max_dropout", "float", 0.0, 1.0, aliases=("dropout",),
                             note="the dropout of the last layer; earlier layers' grows linearly to it"),
            ),
            source_metric="val_accuracy",
            metric_scale=0.01,
            trials_per_task=128,
        ),
    )
}


def names() -> list[str]:
    """The names of the shipped priors."""
    return list(MODELS)


def model(name: str) -> ShippedModel:
    """The shipped model called ``name``.

    Raises:
        InvalidConfigError: No shipped prior has that name; the message lists the names.
    """
    if name not in MODELS:
        raise InvalidConfigError(f"No shipped prior is called {name!r}; choose one of {names()}.")
    return MODELS[name]


def shipped(
    name: str,
    *,
    space: Mapping[str, Any] | SearchSpace | None = None,
    names: Mapping[str, str] | None = None,
    exclude: Sequence[str] = (),
    history: pd.DataFrame | None = None,
    metric: str = METRIC,
    mode: Literal["min", "max"] = "max",
    data_dir: str | os.PathLike[str] | None = None,
    cache: bool | str | os.PathLike[str] | None = None,
    **options: Any,
) -> Prior:
    """A prior that ships with meta-tune, for the default space or for the user's own.

    Without ``space`` it is the ready prior of the model's default space (every parameter
    over YAHPO's range, see :func:`model`). With ``space`` the shipped history is refitted
    for that space, so the user's space decides the bounds: only history trials inside
    them count, parameters the space lacks are left out and the space's own other
    parameters get a uniform prior.

    With ``history`` (the user's own runs, e.g. ``Store().history(family="my-xgb")``) the
    user's tasks join the shipped ones as more training tasks of the same prior: the
    searchers' task weights (:meth:`Prior.task_weights`), re-fitted to the target's own
    results, decide how much the shipped tasks and the user's count.

    A refit is cached on disk (see ``cache`` below), keyed by a SHA-256 of everything it
    depends on, so the same call again loads in well under a second.

    Args:
        name: ``"xgboost"``, ``"decision_tree"`` or ``"mlp"`` (see :func:`names`).
        space: The user's Tune search space (flat keys, or nested: parameters are matched
            by their flattened paths).
        names: The user's name of each library parameter they call differently, e.g.
            ``{"eta": "learning_rate", "num_boost_round": "n_estimators"}`` (keys: the
            library's names or their aliases; values: flattened paths in ``space``).
        exclude: Tasks to leave out (``"rbv2_xgboost/1510"`` or the OpenML id ``"1510"``),
            e.g. the dataset being tuned when it is one of YAHPO's, for an honest comparison.
        history: The user's own trials in the format of :meth:`meta_tune.store.Store.history`
            (a ``task`` column, one column per parameter named as in ``space``, the metric).
        metric: The history's metric column; it must mean what the shipped priors learned,
            accuracy as a fraction in [0, 1], maximized (e.g. ``"val_acc"``).
        mode: The history metric's mode; only ``"max"`` can mean accuracy.
        data_dir: Where the shipped files are (default: inside the package).
        cache: Where refits are cached: None for the default (``priors/`` in meta-tune's
            cache folder, ``$MT_CACHE_DIR`` or ``~/.cache/meta_tune``; ``MT_PRIOR_CACHE=0``
            turns it off), a folder, or False for no cache.
        **options: Fields of :class:`meta_tune.priors.PriorConfig` for a refit.

    Returns:
        The prior, with metric ``"accuracy"`` (a fraction, maximized).

    Raises:
        InvalidConfigError: An unknown prior name or a ``names`` key it does not have; a
            ``history`` without the ``metric`` or ``task`` column, with ``mode="min"`` or
            with values outside [0, 1].
        IncompatibleSearchSpaceError: No parameter of the prior is in ``space`` (after
            ``names``), or no shipped trial lies inside the space's bounds.

    Example:
        >>> from ray import tune
        >>> space = {"learning_rate": tune.loguniform(0.01, 0.3), "max_depth": tune.randint(2, 10)}
        >>> prior = shipped("xgboost", space=space, names={"eta": "learning_rate"})
        >>> prior.portfolio[0]
    """
    spec = model(name)
    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    mapping = _resolve_names(spec, names or {})
    if history is not None:
        check_own_metric(metric, mode)
    if space is None and not mapping and not options and not exclude and history is None:
        return _ready(folder, spec.name)
    target = SearchSpace.from_tune(spec.space()) if space is None else (
        space if isinstance(space, SearchSpace) else SearchSpace.from_tune(space)
    )
    frame = shipped_frame(spec.name, target, mapping, exclude=exclude, data_dir=folder)
    if history is not None:
        frame = combine(frame, own_history(history, target, metric=metric, mode=mode))
    key = {"shipped": {spec.name: file_sha256(folder / f"{spec.name}.parquet")}}
    return fit_cached(frame, target, metric=METRIC, mode="max", key=key, cache=cache, **options)


def shipped_frame(
    name: str,
    target: SearchSpace,
    mapping: Mapping[str, str] | None = None,
    *,
    exclude: Sequence[str] = (),
    data_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The shipped history of ``name`` that a prior for ``target`` learns from.

    Its columns are renamed by ``mapping`` (library name -> the user's, as resolved by
    ``names=`` of :func:`shipped`), its tasks in ``exclude`` left out, and its rows and
    columns cut to ``target`` (see :func:`shipped`).

    Raises:
        InvalidConfigError: ``exclude`` names no shipped task.
        IncompatibleSearchSpaceError: See :func:`shipped`.
    """
    spec = model(name)
    mapping = dict(mapping or {})
    frame = history(name, data_dir=data_dir).rename(columns=mapping)
    if exclude:
        left_out = {t if "/" in t else f"{spec.scenario}/{t}" for t in map(str, exclude)}
        unknown = sorted(left_out - set(frame["task"]))
        if unknown:
            raise InvalidConfigError(
                f"exclude={list(exclude)!r}: the shipped {spec.name} history has no task {unknown}; its "
                f"tasks are {spec.scenario}/<OpenML data id>, e.g. {frame['task'].iloc[0]!r}."
            )
        frame = frame[~frame["task"].isin(left_out)]
    return _inside(frame, target, spec, mapping)


def check_own_metric(metric: str, mode: str) -> None:
    """The user's history's metric must be able to mean the shipped priors' accuracy (maximized).

    Raises:
        InvalidConfigError: ``mode`` is not ``"max"``.
    """
    if mode != "max":
        raise InvalidConfigError(
            f"history with metric={metric!r}, mode={mode!r}: the shipped priors learned accuracy (a fraction "
            "in [0, 1], maximized), and a minimized metric cannot count as it. Combine a history of an "
            "accuracy-like metric (mode='max'), or fit a prior on your history alone with "
            "meta_tune.priors.fit(history, space=..., metric=..., mode=...)."
        )


def own_history(
    history: pd.DataFrame, target: SearchSpace, *, metric: str, mode: str = "max"
) -> pd.DataFrame:
    """The user's trials as more training tasks of a shipped prior for ``target``.

    Keeps the bookkeeping columns (status, runtimes, steps: which trials count and what
    they cost) and ``target``'s parameters (named by their flattened paths), and renames
    ``metric`` to the shipped metric ``accuracy``.

    Raises:
        InvalidConfigError: Not a DataFrame, no ``task`` or ``metric`` column, ``mode`` not
            ``"max"``, no finite value, or values outside [0, 1].
    """
    check_own_metric(metric, mode)
    if not isinstance(history, pd.DataFrame):
        raise InvalidConfigError(
            f"history must be a pandas DataFrame of your trials (e.g. Store().history(family=...)), got "
            f"{type(history).__name__}."
        )
    for column in ("task", metric):
        if column not in history.columns:
            raise InvalidConfigError(
                f"Your history has no {column!r} column (its columns: {list(history.columns)}); it needs a "
                f"'task' column, one column per parameter of your space and the metric (metric={metric!r})."
            )
    values = pd.to_numeric(history[metric], errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    outside = finite & ((values < 0) | (values > 1))
    if outside.any():
        raise InvalidConfigError(
            f"Your history's {metric!r} has values outside [0, 1] (e.g. {values[outside][:3].tolist()}): the "
            "shipped priors learned accuracy as a fraction in [0, 1], maximized. Give an accuracy-like "
            "metric as a fraction (divide a percentage by 100), or fit a prior on your history alone "
            "with meta_tune.priors.fit."
        )
    if not finite.any():
        raise InvalidConfigError(f"Your history has no finite {metric!r} value to learn from.")
    keep = {*RESERVED_COLUMNS, metric, *target.flat_keys()}
    frame = history[[c for c in history.columns if c in keep and not (c == METRIC and metric != METRIC)]]
    return frame.rename(columns={metric: METRIC}).reset_index(drop=True)


def combine(shipped_part: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """A shipped history and the user's stacked as one history (the user's tasks added).

    Shipped rows get the bookkeeping the user's rows may have: each its own ``trial_id``,
    one step, status ``TERMINATED``.
    """
    part = shipped_part.copy()
    part["trial_id"] = part["task"].astype(str) + "#" + pd.RangeIndex(len(part)).astype(str)
    part["status"] = "TERMINATED"
    part["training_iteration"] = 1
    clash = sorted(set(part["task"]) & set(own["task"].astype(str)))
    if clash:
        raise InvalidConfigError(
            f"Your history has tasks named like the shipped ones ({clash[:3]}); rename your tasks."
        )
    return pd.concat([part, own], ignore_index=True)


def history(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The shipped history of a prior, in the library's parameter names.

    One row per trial: ``task`` (``<scenario>/<OpenML task id>``), one column per parameter
    (see :func:`model`), ``accuracy`` (a fraction) and ``runtime_s`` (YAHPO's simulated
    training time, seconds).
    """
    spec = model(name)
    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    return _read_history(str(folder / f"{spec.name}.parquet")).copy()


@functools.lru_cache(maxsize=8)
def _read_history(path: str) -> pd.DataFrame:
    if not Path(path).exists():
        raise InvalidConfigError(
            f"The shipped history {path} is missing; rebuild it with `meta-tune priors build` (needs the "
            "YAHPO Gym data, see docs/shipped_priors.md) or reinstall meta-tune."
        )
    return pd.read_parquet(path)


@functools.lru_cache(maxsize=8)
def _ready_cached(path: str) -> Prior:
    return Prior.load(path)


def _ready(folder: Path, name: str) -> Prior:
    path = folder / f"{name}.json"
    if not path.exists():
        raise InvalidConfigError(
            f"The shipped prior {path} is missing; rebuild it with `meta-tune priors build` or reinstall "
            "meta-tune."
        )
    # A prior is never changed in place by meta-tune, so one loaded copy is shared.
    return _ready_cached(str(path))


def _resolve_names(spec: ShippedModel, names: Mapping[str, str]) -> dict[str, str]:
    """Library name -> the user's name, with aliases resolved; unknown keys raise."""
    mapping: dict[str, str] = {}
    for key, user in names.items():
        try:
            mapping[spec.param(key).name] = str(user)
        except KeyError:
            raise InvalidConfigError(
                f"names={dict(names)!r}: the {spec.name} prior has no parameter {key!r}; its parameters are "
                f"{[p.name for p in spec.params]} (aliases "
                f"{[a for p in spec.params for a in p.aliases]})."
            ) from None
    return mapping


def _inside(
    frame: pd.DataFrame, target: SearchSpace, spec: ShippedModel, mapping: Mapping[str, str]
) -> pd.DataFrame:
    """The history's columns for ``target``'s parameters, its rows inside ``target``'s bounds.

    Numeric values of a categorical parameter snap to its nearest numeric category.
    """
    params = {p.name: p for p in target.params}
    shared = [c for c in frame.columns if c in params]
    if not shared:
        library = [mapping.get(p.name, p.name) for p in spec.params]
        raise IncompatibleSearchSpaceError(
            f"The shipped {spec.name} prior shares no parameter with your search space: it knows {library}; "
            f"your space has {sorted(params)}. Pass names={{library name: your name}} for the parameters "
            f"you call differently, e.g. names={{'{spec.params[0].name}': 'my_{spec.params[0].name}'}}."
        )
    keep = np.ones(len(frame), dtype=bool)
    frame = frame[["task", *shared, METRIC, "runtime_s"]].copy()
    for column in shared:
        param = params[column]
        values = frame[column].to_numpy(dtype=float)
        if isinstance(param, (FloatParam, IntParam)):
            low, high = float(param.lower), float(param.upper)
            if isinstance(param, IntParam):  # an int trial counts where it rounds into the bounds
                low, high = low - 0.5, high + 0.5
            keep &= (values >= low) & (values <= high)
        elif isinstance(param, CategoricalParam):
            frame[column] = _snap(values, param)
    dropped = int((~keep).sum())
    if keep.sum() == 0:
        raise IncompatibleSearchSpaceError(
            f"No trial of the shipped {spec.name} history lies inside your search space's bounds for "
            f"{shared}; the shipped ranges are "
            f"{ {mapping.get(p.name, p.name): (p.lower, p.upper) for p in spec.params} }."
        )
    if dropped:
        logger.info(
            "The shipped %s prior learns from the %d of %d trials inside your space's bounds.",
            spec.name, int(keep.sum()), len(frame),
        )
    return frame[keep].reset_index(drop=True)


def _snap(values: np.ndarray, param: CategoricalParam) -> list[Any]:
    """Each value as the nearest numeric category of ``param`` (None when it has none)."""
    values_of = [getattr(c, "value", None) for c in param.categories]  # constants; None: a sub-space
    numeric = [
        (float(c), c) for c in values_of
        if isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(float(c))
    ]
    if not numeric:
        return [None] * len(values)
    points = np.array([n for n, _ in numeric])
    return [numeric[int(np.argmin(np.abs(points - v)))][1] for v in values]


def build(
    yahpo_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    models: list[str] | None = None,
    seed: int = 0,
) -> list[Path]:
    """Make the shipped histories and ready priors from the YAHPO Gym surrogates.

    On every task of the model's scenario, ``trials_per_task`` random configs of the
    default space (seeded per task) are evaluated by the surrogate at full fidelity; the
    history keeps them in the library's terms as float32 (with ``accuracy`` and
    ``runtime_s``), and the ready prior is fitted on it for the default space.

    Args:
        yahpo_dir: The YAHPO Gym data (see :func:`meta_tune.bench.find_yahpo_dir`).
        out_dir: Where to write (default: the package's ``data/priors``).
        models: Which models (default: all).
        seed: The same seed gives the same files.

    Returns:
        The files written.
    """
    from meta_tune.bench import load_scenario

    out = Path(out_dir) if out_dir is not None else DATA_DIR
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in models or names():
        spec = model(name)
        i = names().index(spec.name)  # the same configs whichever models are rebuilt together
        scenario = load_scenario(spec.scenario, yahpo_dir)
        space = SearchSpace.from_tune(spec.space())
        frames = []
        for j, task in enumerate(scenario.tasks):
            configs = space.sample(np.random.default_rng([seed, i, j]), spec.trials_per_task)
            results = scenario.evaluate(task, [spec.to_source(c) for c in configs])
            frame = pd.DataFrame(configs)
            frame.insert(0, "task", f"{spec.scenario}/{task}")
            frame[METRIC] = [r[spec.source_metric] * spec.metric_scale for r in results]
            frame["runtime_s"] = [r["runtime"] for r in results]
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        for p in spec.params:
            table[p.name] = table[p.name].astype("int32" if p.kind == "int" else "float32")
        for column in (METRIC, "runtime_s"):
            table[column] = table[column].astype("float32")
        path = out / f"{spec.name}.parquet"
        table.to_parquet(path, index=False, compression="zstd")
        prior = fit(table, space=spec.space(), metric=METRIC, mode="max", seed=seed)
        prior.save(out / f"{spec.name}.json")
        written += [path, out / f"{spec.name}.json", out / f"{spec.name}.npz"]
        logger.info("Wrote the %s history (%d tasks x %d trials) and prior to %s",
                    name, len(scenario.tasks), spec.trials_per_task, out)
    _read_history.cache_clear()
    _ready_cached.cache_clear()
    return written


__all__ = ["DATA_DIR", "METRIC", "MODELS", "ShippedModel", "ShippedParam", "build", "check_own_metric",
           "combine", "history", "model", "names", "own_history", "shipped", "shipped_frame"]
