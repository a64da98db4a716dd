"""Benchmark tables and plots: regret against trials and against simulated time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meta_tune._imports import require
from meta_tune.bench._protocol import TIME_BUDGETS, MetricBounds, regret_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


#: The legend entry of the shaded bands of :func:`plot_regret`.
BAND_LABEL = "shaded: 95% CI of the mean\n(mean +- 1.96 SE over task x seed runs)"


def plot_regret(
    trajectories: pd.DataFrame,
    bounds: Mapping[str, MetricBounds],
    path: str | Path | None,
    *,
    max_trials: int,
    title: str,
    max_time: float | None = None,
) -> Figure:
    """Draw mean normalized regret (95% bands over runs) vs trials and vs simulated time.

    Time is in multiples of each task's median random-config runtime, so that tasks of
    different cost average together; it runs up to ``max_time`` (a time-budgeted run's
    budget) or ``max_trials`` such runtimes. Both axes of both panels are logarithmic. One
    legend, beside the panels, names each method's line and the shaded bands.

    Args:
        trajectories: :func:`~meta_tune.bench.run_benchmark`'s trajectories.
        bounds: Each task's metric bounds (for the normalized regret).
        path: Where to save the PNG (None: only return the figure).
        max_trials: The runs' trial budget (the trials axis ends there).
        title: The figure's title.
        max_time: The runs' time budget, in median runtimes, if they had one.

    Returns:
        The matplotlib figure (closed when saved: inspect it, or save it again).
    """
    plt = require("matplotlib.pyplot", extra="bench")
    from matplotlib.patches import Patch

    trial_budgets = np.unique(np.geomspace(1, max_trials, 30).round().astype(int))
    by_trials = regret_table(trajectories, bounds, budgets=list(trial_budgets))
    time_budgets = (
        np.geomspace(max_time / 50, max_time, 30) if max_time else np.geomspace(1, max(2.0, max_trials), 30)
    )
    by_time = regret_table(
        trajectories, bounds, budgets=list(time_budgets), by="time", time_unit="median_runtime"
    )
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
    palette = plt.get_cmap("tab20").colors  # dark shades first, then light: 20 methods apart
    for ax, table, xlabel, panel in (
        (axes[0], by_trials, "trials (log scale)", "regret vs trials"),
        (
            axes[1],
            by_time,
            "simulated time, x median random-config runtime (log scale)",
            "regret vs simulated time",
        ),
    ):
        for i, (method, rows) in enumerate(table.groupby("method", sort=True)):
            color = palette[(2 * i) % 20 + (i // 10) % 2]
            stats = rows.groupby("budget")["regret"].agg(["mean", "std", "count"])
            band = 1.96 * stats["std"].fillna(0) / np.sqrt(stats["count"])
            ax.plot(stats.index, stats["mean"], label=method, color=color)
            ax.fill_between(
                stats.index,
                (stats["mean"] - band).clip(lower=1e-4),
                stats["mean"] + band,
                alpha=0.12,
                color=color,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean normalized regret (log scale)")
        ax.set_title(panel, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Patch(color="0.6", alpha=0.4))
    labels.append(BAND_LABEL)
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="method", title_fontsize=8)
    fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def budget_table(summary: pd.DataFrame, budgets: Sequence[float]) -> pd.DataFrame:
    """Methods as rows, ``mean (median)`` regret and mean rank at each budget as columns."""
    rows = []
    for method, group in summary.groupby("method", sort=False):
        row: dict[str, object] = {"method": method}
        for budget in budgets:
            hit = group[group["budget"] == budget]
            if len(hit):
                r = hit.iloc[0]
                row[f"@{budget:g}"] = (
                    f"{r['mean_regret']:.4f} ({r['median_regret']:.4f}) r{r['mean_rank']:.2f}"
                )
        rows.append(row)
    return pd.DataFrame(rows)


def time_budget_steps(time_budget: float) -> list[float]:
    """The simulated-time budgets a table reports up to ``time_budget`` (the budget itself last).

    Multiples of the task's median runtime: :data:`~meta_tune.bench.TIME_BUDGETS` below the
    budget (and halves below 1, for budgets of a few runtimes), then the budget.
    """
    steps = [b for b in (0.25, 0.5, *TIME_BUDGETS) if b < time_budget]
    if time_budget > 2:
        steps = [b for b in steps if b >= 1]
    return [*steps, time_budget]
