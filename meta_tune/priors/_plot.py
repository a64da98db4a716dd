"""The picture of a fitted prior: per parameter, its samples against each task's best config."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from meta_tune._imports import require
from meta_tune.space import CategoricalParam, SearchSpace

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from meta_tune.priors._prior import Prior

logger = logging.getLogger(__name__)

#: Legend labels of the two marks on every panel.
SAMPLES_LABEL = "prior samples"
BESTS_LABEL = "best config of each history task"


def plot_prior(prior: Prior, path: str | os.PathLike[str] | None = None, *, n_samples: int = 2000) -> Figure:
    """Draw, per parameter, ``n_samples`` draws of the prior against each task's best config.

    Numeric parameters get a density histogram of the samples on the parameter's own scale
    (a log axis and log-spaced bins for log-scaled parameters), with one tick under it per
    history task at that task's best value. Categorical parameters get a bar per category in
    the order of its values (numeric categories in numeric order, others as declared) with
    the share of samples, and a dot with the share of task bests. Every panel has a title,
    axis labels and a legend for both marks.

    Args:
        prior: The fitted prior.
        path: Where to save the PNG (None: only return the figure).
        n_samples: Draws from the prior (seeded with the prior's own seed).

    Returns:
        The matplotlib figure (closed when saved: inspect it, or save it again).
    """
    plt = require("matplotlib.pyplot", extra="bench")
    samples = prior.sample(n_samples, np.random.default_rng(prior.config.seed))
    best = prior.space.decode_many(
        np.stack([t.unit[int(np.argmin(t.loss))] for t in prior._tasks]), "ordinal"
    )
    flat_samples = pd.DataFrame([_flat_values(prior.space, c) for c in samples])
    flat_best = pd.DataFrame([_flat_values(prior.space, c) for c in best])
    params = list(flat_samples.columns)
    cols = max(1, min(3, len(params)))
    rows = max(1, -(-len(params) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.2 * rows + 0.6), squeeze=False)
    for ax, name in zip(axes.flat, params):
        s = flat_samples[name].dropna()
        b = flat_best[name].dropna() if name in flat_best else pd.Series(dtype=object)
        param = prior.space[name]
        if isinstance(param, CategoricalParam) or s.map(type).eq(str).any():
            _categorical_panel(ax, s, b, param)
        else:
            _numeric_panel(ax, s, b, log=bool(getattr(param, "log", False)))
        ax.set_title(name, fontsize=9)
    for ax in list(axes.flat)[len(params) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Prior over {len(params)} parameter(s): {n_samples} samples vs the best config of each of "
        f"{len(prior._tasks)} history task(s)",
        fontsize=10,
    )
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
        plt.close(fig)
        logger.info("Saved the prior's plot to %s.", path)
    return fig


def category_order(values: Sequence[Any], declared: Sequence[Any] = ()) -> list[Any]:
    """The values a categorical panel shows, in the order it shows them.

    Every declared category (a category the prior never samples shows as an empty bar).
    Numbers (every value numeric, booleans excepted) in numeric order; otherwise the
    declared categories in their declared order, then any other value, by its text.

    Args:
        values: The values that occur (samples and task bests).
        declared: The parameter's categories as the search space declares them.

    Returns:
        The distinct values, ordered.
    """
    seen = list(dict.fromkeys([*declared, *values]))
    if seen and all(_is_number(v) for v in seen):
        return sorted(seen, key=float)
    listed = list(dict.fromkeys(declared))
    rest = sorted((v for v in seen if v not in listed), key=str)
    return [*listed, *rest]


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _categorical_panel(ax: Axes, s: pd.Series, b: pd.Series, param: Any) -> None:
    """Bars: share of samples per category; dots: share of task bests per category."""
    # A constant category holds its value; a sub-space category has none to show.
    declared = [getattr(c, "value", c) for c in getattr(param, "categories", ()) or ()]
    hashable_declared = tuple(v for v in declared if isinstance(v, str | Real))
    samples, bests = _hashable(s), _hashable(b)
    order = category_order([*samples, *bests], hashable_declared)
    labels = [str(v) for v in order]
    positions = np.arange(len(order))
    sample_share = [float(np.mean([v == c for v in samples])) if samples else 0.0 for c in order]
    ax.bar(positions, sample_share, alpha=0.6, label=SAMPLES_LABEL)
    best_share = [float(np.mean([v == c for v in bests])) for c in order] if bests else []
    if bests:
        ax.plot(positions, best_share, "o", color="C1", label=BESTS_LABEL)
    ax.set_xticks(positions, labels)
    ax.set_ylim(0, 1.3 * max([1e-9, *sample_share, *best_share]))  # room for the legend
    ax.set_xlabel("category")
    ax.set_ylabel("share")
    ax.legend(fontsize=7)


def _numeric_panel(ax: Axes, s: pd.Series, b: pd.Series, *, log: bool) -> None:
    """A density histogram of the samples on the parameter's scale; a tick per task best."""
    values = s.astype(float)
    log = log and bool(len(values)) and float(values.min()) > 0
    bins: Any = 40
    if log:
        bins = np.geomspace(float(values.min()), float(values.max()), 41)
        if not bins[-1] > bins[0]:
            bins = 40
    ax.hist(values, bins=bins, density=True, alpha=0.6, label=SAMPLES_LABEL)
    if len(b):
        ax.plot(b.astype(float), np.zeros(len(b)), "|", markersize=14, color="C1", label=BESTS_LABEL)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("value (log scale)" if log else "value")
    ax.set_ylabel("density")
    ax.legend(fontsize=7)


def _hashable(values: pd.Series) -> list[Any]:
    """The values as hashable Python objects (sub-configs and lists by their text)."""
    out = []
    for value in values:
        v = value.item() if isinstance(value, np.generic) else value
        out.append(v if isinstance(v, str | Real | bool) else str(v))
    return out


def _flat_values(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Any]:
    """A config's value for each parameter name (a categorical by its category's value)."""
    flat = space.flatten(config)
    return {name: flat.get(name) for name in space.names if name in flat}
