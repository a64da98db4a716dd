"""The prior a tuning run's searcher learns from: fitted on a store history, or shipped.

A family whose models have shipped priors (``tabular``: XGBoost, decision trees, MLPs;
see :func:`meta_tune.priors.shipped`) learns from them on its first run, and from them
and the store's earlier runs of the family together once there are some.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from meta_tune.errors import InvalidConfigError
from meta_tune.space import SearchSpace

if TYPE_CHECKING:
    from meta_tune.priors import Prior

logger = logging.getLogger(__name__)

#: The built-in families whose models have shipped priors.
SHIPPED_PRIOR_FAMILIES = frozenset({"tabular"})


def fit_prior(
    history: pd.DataFrame, *, space: dict[str, Any] | SearchSpace, metric: str, mode: Literal["min", "max"]
) -> Prior:
    """``meta_tune.priors.fit`` on the columns of a store history that a prior reads.

    A store history also holds the other metrics a trainable reports and its run constants
    (seed, epochs); they are not parameters, so they are dropped here rather than reported
    by ``fit`` as ignored columns. The bookkeeping columns stay: ``status`` (a prior learns
    only from finished trials) and the runtimes and steps (its cost model).
    """
    from meta_tune.priors import fit
    from meta_tune.priors._history import RESERVED_COLUMNS

    target = space if isinstance(space, SearchSpace) else SearchSpace.from_tune(space)
    keep = {*RESERVED_COLUMNS, metric, *target.flat_keys(constants=False)}
    columns = [c for c in history.columns if c in keep or c.startswith("meta:")]
    return fit(history[columns], space=target, metric=metric, mode=mode)


def shipped_family_prior(
    family: str | None,
    space: dict[str, Any],
    *,
    history: pd.DataFrame | None,
    metric: str | Sequence[str] | None,
    mode: str | Sequence[str] | None,
    store_url: str = "",
    cache: bool | str | None = None,
) -> Prior | None:
    """The prior of a run of a family with shipped priors (:func:`tabular_prior`), else None.

    Args:
        family: The prior's family (``tabular``, or ``tabular@e<epochs>``).
        space: The run's Tune ``param_space``.
        history: The store's earlier runs of the family (without the tuned task), or None.
        metric: The run's metric (several objectives: None is returned, the shipped
            priors learned one).
        mode: Its mode.
        store_url: The store, for messages.
        cache: See :func:`meta_tune.priors._cache.cache_dir`.
    """
    if not family or family.partition("@")[0] not in SHIPPED_PRIOR_FAMILIES:
        return None
    if not isinstance(metric, str) or mode not in ("min", "max"):
        return None
    one_mode: Literal["min", "max"] = "min" if mode == "min" else "max"
    return tabular_prior(
        space, history=history, metric=metric, mode=one_mode, store_url=store_url, cache=cache
    )


def tabular_prior(
    space: dict[str, Any],
    *,
    history: pd.DataFrame | None,
    metric: str,
    mode: Literal["min", "max"],
    store_url: str = "",
    cache: bool | str | None = None,
) -> Prior:
    """The prior of a tabular run: the shipped priors of its models, plus the user's runs.

    The space is the tabular family's: either its conditional choice of models
    (``{"model": tune.choice([{"name": "xgboost", ...}, ...])}``) or one model's flat space
    (``{"model": "xgboost", "eta": ..., ...}``); its parameter names are the library's, as
    the shipped priors' are. Each model with a shipped prior contributes its shipped
    history, cut to the space's bounds; a model without one (``random_forest``) has its
    parameters searched uniformly, which one log line says (not the fit's UserWarning). The
    store's earlier tabular runs (``history``) join as more tasks, and the searchers' task
    weights decide how much they count. The fit is cached.

    Raises:
        InvalidConfigError: No model of the space has a shipped prior, or the run's metric
            is not accuracy (maximized), and ``history`` is empty; the message says what to do.
    """
    from meta_tune.priors._cache import file_sha256, fit_cached
    from meta_tune.priors._shipped import DATA_DIR, METRIC, MODELS, combine, own_history, shipped_frame

    models = _tabular_models(space)
    with_prior = [m for m in models if m[0] in MODELS]
    has_history = history is not None and not history.empty
    target = SearchSpace.from_tune(space)
    if not with_prior or metric != METRIC or mode != "max":
        where = f"the store {store_url}" if store_url else "the store"
        if has_history:
            assert history is not None
            return fit_prior(history, space=target, metric=metric, mode=mode)
        if not with_prior:
            named = sorted({m[0] for m in models}) or [str(space.get("model"))]
            raise InvalidConfigError(
                f"The tabular model(s) {named} have no shipped prior (meta-tune ships priors for "
                f"{sorted(MODELS)}), and {where} has no earlier tabular runs besides the "
                "tuned task to learn from. Tune it once with --searcher random or hyperopt (the trials are "
                "recorded, and later runs of a prior searcher learn from them), tune a model that has a "
                "shipped prior, or give a saved prior under prior.path."
            )
        raise InvalidConfigError(
            f"The shipped tabular priors learned {METRIC!r} (maximized), and this run tunes {metric!r} "
            f"(mode {mode!r}); {where} has no earlier tabular runs besides the tuned task to "
            f"learn from. Tune {METRIC!r} with mode max, run once with --searcher random or hyperopt first, "
            "or give a saved prior under prior.path."
        )
    frames = []
    for name, prefix, sub in with_prior:
        part = shipped_frame(name, SearchSpace.from_tune(sub))
        if prefix:
            fixed = {"task", METRIC, "runtime_s"}
            part = part.rename(columns={c: f"{prefix}{c}" for c in part.columns if c not in fixed})
            part[f"{prefix}name"] = name
        frames.append(part)
    frame = pd.concat(frames, ignore_index=True)
    if has_history:
        assert history is not None
        frame = combine(frame, own_history(history, target, metric=metric, mode=mode))
    without = sorted({m[0] for m in models} - {m[0] for m in with_prior})
    uniform = _uniform_parameters(frame, target, [m for m in models if m[0] in without])
    if without:
        logger.info(
            "No shipped prior for the tabular model(s) %s: %s.",
            without,
            f"their parameters {uniform} are searched uniformly" if uniform
            else "their parameters are learned from your earlier runs of them",
        )
    earlier = history["task"].nunique() if has_history and history is not None else 0
    logger.info("Learning from the shipped priors of %s and %d earlier tabular task(s).",
                [m[0] for m in with_prior], earlier)
    key = {"shipped": {m[0]: file_sha256(DATA_DIR / f"{m[0]}.parquet") for m in with_prior}}
    with warnings.catch_warnings():
        if uniform:  # said once above; the fit's warning about them would repeat it on every fit
            warnings.filterwarnings("ignore", message=_SPACE_DIFFERS, category=UserWarning)
        return fit_cached(frame, target, metric=METRIC, mode="max", key=key, cache=cache)


#: The start of the warning ``meta_tune.priors.fit`` gives for a history that lacks parameters.
_SPACE_DIFFERS = "The history and the target space differ"


def _uniform_parameters(
    frame: pd.DataFrame, target: SearchSpace, without: list[tuple[str, str, dict[str, Any]]]
) -> list[str]:
    """The parameters of models ``without`` a shipped prior that ``frame`` lacks, or [].

    Empty also when the history and the space differ in any other way (a parameter of a
    model with a shipped prior missing, a column that is no parameter): then the fit's own
    warning is not expected and must be seen.
    """
    from meta_tune.priors._history import META_PREFIX, RESERVED_COLUMNS
    from meta_tune.priors._shipped import METRIC

    present = {str(c) for c in frame.columns}
    missing = {k for k in target.flat_keys(constants=False) if k not in present}
    theirs = {
        f"{prefix}{key}"
        for _, prefix, sub in without
        for key in SearchSpace.from_tune(sub).flat_keys(constants=False)
    }
    known = set(target.flat_keys()) | RESERVED_COLUMNS | {METRIC}
    extra = [c for c in present if c not in known and not c.startswith(META_PREFIX)]
    if not missing or not missing <= theirs or extra:
        return []
    return sorted(missing)


def _tabular_models(space: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(model, flat-path prefix of its parameters, its parameters' space) of each model of a tabular space."""
    chosen = space.get("model", "xgboost")
    if isinstance(chosen, str):
        return [(chosen, "", {k: v for k, v in space.items() if k != "model"})]
    models = []
    for category in getattr(chosen, "categories", None) or []:
        if isinstance(category, dict) and isinstance(category.get("name"), str):
            models.append((category["name"], "model/", {k: v for k, v in category.items() if k != "name"}))
    return models


__all__ = ["SHIPPED_PRIOR_FAMILIES", "fit_prior", "shipped_family_prior", "tabular_prior"]
