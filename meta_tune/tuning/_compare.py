"""Searchers side by side on one held-out task: the main job's comparison, table and plot."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from ray.tune import Callback

from meta_tune.store import Store
from meta_tune.trainables import TrainableSpec
from meta_tune.tuning._run import RunOutcome, tune_task

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


def held_out_history(store: Store, spec: TrainableSpec, task: str, epochs: int | None = None) -> pd.DataFrame:
    """The family's history in ``store`` without any trial of ``task`` itself.

    With ``epochs`` other than the family's standard ones, the history of runs that long
    (``<family>@e<epochs>``, made by ``collect --epochs``) when the store has one, else the
    standard history.

    Raises:
        InvalidConfigError: (later, from the prior searcher) when nothing is left.
    """
    from meta_tune.tuning._experiment import TrainableSection

    section = TrainableSection.model_validate({"family": spec.name, "task": task, "epochs": epochs})
    family = section.store_family
    if family != spec.name and not store.list_tasks(family):
        logger.info("No %s history in the store: the prior learns from the %s history.", family, spec.name)
        family = spec.name
    history = store.history(family=family)
    held_out = {f"{family}/{task}", section.store_task}
    return history[~history["task"].isin(held_out)].reset_index(drop=True)


def compare(
    spec: TrainableSpec,
    task: str,
    *,
    searchers: Sequence[str],
    samples: int,
    seeds: Sequence[int],
    store: Store,
    storage_path: Path,
    scheduler: str = "asha",
    epochs: int | None = None,
    concurrency: int = 2,
    on_run_done: Callable[[str, int, RunOutcome], None] | None = None,
    make_callbacks: Callable[[], Sequence[Callback]] | None = None,
) -> pd.DataFrame:
    """Tune ``task`` with each searcher and seed at the same budget; priors exclude ``task``.

    Each run is recorded in the store as ``compare/<family>/<task>/<searcher>/seed<k>``,
    outside the family, so it never feeds a later prior of the family.

    Args:
        spec: The trainable family.
        task: The held-out task.
        searchers: Searcher names (see ``make_searcher``).
        samples: Trials per run.
        seeds: One run per searcher and seed.
        store: Holds the family's history; the runs are recorded there too.
        storage_path: Tune's storage path.
        scheduler: The scheduler of every run.
        epochs: Epochs per trial (default: the family's).
        concurrency: Trials at once.
        on_run_done: Called after each run.
        make_callbacks: Returns fresh Tune callbacks (e.g. progress) for each run.

    Returns:
        The runs' timelines stacked, with ``searcher`` and ``seed`` columns and ``n``
        (1-based index of the trial in finishing order).
    """
    history = held_out_history(store, spec, task, epochs)
    frames = []
    for seed in seeds:
        for searcher in searchers:
            name = f"compare/{spec.name}/{task}/{searcher}/seed{seed}"
            outcome = tune_task(spec, task, searcher=searcher, scheduler=scheduler, samples=samples,
                                epochs=epochs, seed=seed, store=store, store_task=name, history=history,
                                concurrency=concurrency, storage_path=storage_path,
                                callbacks=make_callbacks() if make_callbacks else ())
            frame = outcome.timeline.assign(searcher=searcher, seed=seed)
            frame["n"] = np.arange(1, len(frame) + 1)
            frames.append(frame)
            if on_run_done is not None:
                on_run_done(searcher, seed, outcome)
    return pd.concat(frames, ignore_index=True)


def best_at_trials(runs: pd.DataFrame, budgets: Sequence[int]) -> pd.DataFrame:
    """Mean over seeds of the best metric after ``n`` finished trials: searchers x budgets."""
    rows = {}
    for searcher, group in runs.groupby("searcher", sort=False):
        rows[searcher] = {
            f"{n} trials": group[group["n"] <= n].groupby("seed")["best"].last().mean() for n in budgets
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def best_so_far_at(runs: pd.DataFrame, times: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
    """Each run's best metric so far at each time: per searcher, an array seeds x times.

    The step function the table and the plot both use: at time ``t`` a run's value is the
    ``best`` of its last trial finished by ``t`` (``finished_s <= t``), and NaN while it has
    no finished trial. The seeds are every seed of ``runs``, in sorted order, so a seed a
    searcher has no row for is all NaN.

    Args:
        runs: :func:`compare`'s runs (``searcher``, ``seed``, ``finished_s``, ``best``).
        times: Seconds of wall-clock since each run started.

    Returns:
        Searcher -> array of shape ``(number of seeds, len(times))``.
    """
    grid = np.asarray(times, dtype=float)
    seeds = sorted(runs["seed"].unique())
    out = {}
    for searcher, group in runs.groupby("searcher", sort=False):
        curves = np.full((len(seeds), len(grid)), np.nan)
        for i, seed in enumerate(seeds):
            run = group[group["seed"] == seed].sort_values("finished_s", kind="stable")
            if run.empty:
                continue
            last = np.searchsorted(run["finished_s"].to_numpy(), grid, side="right") - 1
            values = run["best"].to_numpy(dtype=float)[np.maximum(last, 0)]
            curves[i] = np.where(last >= 0, values, np.nan)
        out[str(searcher)] = curves
    return out


def _mean_of_all(curves: np.ndarray) -> np.ndarray:
    """The mean over seeds (rows) where every seed has a value, NaN elsewhere."""
    full = ~np.isnan(curves).any(axis=0)
    return np.where(full, np.nan_to_num(curves).mean(axis=0), np.nan)


def seconds_label(t: float) -> str:
    """A wall-clock budget as a column label: ``"12 s"`` (``"0.5 s"`` below a second)."""
    return f"{t:.0f} s" if t >= 1 else f"{t:.2g} s"


def best_at_seconds(runs: pd.DataFrame, budgets: Sequence[float]) -> pd.DataFrame:
    """Mean over all seeds of the best metric after ``t`` seconds of wall-clock: searchers x budgets.

    The same step function as the plot (see :func:`best_so_far_at`): a seed with no finished
    trial by ``t`` has no value, so the mean is NaN until every seed has one (it never
    averages only the seeds that happen to be done); :func:`seeds_with_result` counts them.
    """
    curves = best_so_far_at(runs, budgets)
    labels = [seconds_label(t) for t in budgets]
    return pd.DataFrame({s: _mean_of_all(c) for s, c in curves.items()}, index=labels).T


def seeds_with_result(runs: pd.DataFrame, budgets: Sequence[float]) -> pd.DataFrame:
    """How many seeds have a finished trial after ``t`` seconds: searchers x budgets."""
    curves = best_so_far_at(runs, budgets)
    labels = [seconds_label(t) for t in budgets]
    return pd.DataFrame({s: (~np.isnan(c)).sum(axis=0) for s, c in curves.items()}, index=labels).T


def trials_to_reach(runs: pd.DataFrame, searcher: str, baseline: str, mode: str) -> pd.DataFrame:
    """Per seed: trials and wall-clock seconds ``searcher`` needed to reach ``baseline``'s final best.

    ``ratio`` = trials needed / trials the baseline used, ``time ratio`` = seconds needed /
    seconds the baseline's run took (below 1: the searcher is faster); NaN where
    ``searcher`` never got there.
    """
    rows = []
    for seed, group in runs.groupby("seed"):
        base = group[group["searcher"] == baseline]
        mine = group[group["searcher"] == searcher]
        target = base["best"].iloc[-1]
        reached = mine[mine["best"] >= target] if mode == "max" else mine[mine["best"] <= target]
        needed = int(reached["n"].iloc[0]) if len(reached) else math.nan
        seconds = float(reached["finished_s"].iloc[0]) if len(reached) else math.nan
        base_seconds = float(base["finished_s"].max())
        rows.append(
            {
                "seed": seed,
                "target": target,
                f"{searcher} trials": needed,
                f"{baseline} trials": len(base),
                "ratio": needed / len(base),
                f"{searcher} s": seconds,
                f"{baseline} s": base_seconds,
                "time ratio": seconds / base_seconds,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ComparisonTable:
    """One table of the comparison, as printed and as saved.

    Attributes:
        name: The file stem (``<name>.csv`` and ``<name>.md``).
        caption: What the numbers are and how they were computed.
        frame: The table (no index).
    """

    name: str
    caption: str
    frame: pd.DataFrame


def comparison_tables(
    runs: pd.DataFrame,
    *,
    metric: str,
    mode: str,
    trial_budgets: Sequence[int],
    seconds: Sequence[float],
    searcher: str = "prior",
    baseline: str = "hyperopt",
) -> list[ComparisonTable]:
    """The demo's tables: best after n trials, best after t seconds, trials to reach the baseline.

    Args:
        runs: :func:`compare`'s runs.
        metric: The metric's name (for the captions).
        mode: ``"max"`` or ``"min"``.
        trial_budgets: The ``n`` of the first table.
        seconds: The ``t`` of the second table (seconds of wall-clock).
        searcher: The searcher the third table times.
        baseline: The searcher whose final best it has to reach.

    Returns:
        ``best_after_trials``, ``best_after_seconds`` and ``trials_to_reach``.
    """
    n_seeds = runs["seed"].nunique()
    by_trials = best_at_trials(runs, trial_budgets).reset_index(names="searcher")
    means, counts = best_at_seconds(runs, seconds), seeds_with_result(runs, seconds)
    by_seconds = pd.DataFrame({"seconds": [float(t) for t in seconds]})
    for name in means.index:
        by_seconds[name] = means.loc[name].to_numpy()
        by_seconds[f"{name} seeds"] = counts.loc[name].to_numpy()
    reach = trials_to_reach(runs, searcher, baseline, mode)
    return [
        ComparisonTable(
            "best_after_trials",
            f"Best {metric} after n trials (counted in the order they finished), mean over the "
            f"{n_seeds} seed(s); a run with fewer than n trials counts with its final best.",
            by_trials,
        ),
        ComparisonTable(
            "best_after_seconds",
            f"Best {metric} after t seconds of wall-clock, mean over all {n_seeds} seed(s) of each "
            "run's best so far - the step function of the plot's right panel. A seed with no "
            "finished trial by t has no value: the mean is '-' until every seed has one; "
            "'<searcher> seeds' counts the seeds with a result.",
            by_seconds,
        ),
        ComparisonTable(
            "trials_to_reach",
            f"Per seed: trials and seconds {searcher} took to reach {baseline}'s final best {metric}; "
            f"ratio = {searcher}'s / {baseline}'s whole run (below 1: {searcher} got there first; "
            "'-': it never did).",
            reach,
        ),
    ]


def markdown_table(frame: pd.DataFrame, *, float_format: str = "{:.4g}") -> str:
    """A DataFrame as a GitHub Markdown table, without the index; NaN shows as ``-``."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return "-" if math.isnan(value) else float_format.format(value)
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def write_tables(tables: Sequence[ComparisonTable], folder: Path) -> list[Path]:
    """Save each table as ``<name>.csv`` and as ``<name>.md`` (its caption, then the table).

    Returns:
        The files written, CSV then Markdown for each table.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        csv, md = folder / f"{table.name}.csv", folder / f"{table.name}.md"
        table.frame.to_csv(csv, index=False)
        md.write_text(f"{table.caption}\n\n{markdown_table(table.frame)}", encoding="utf-8")
        paths += [csv, md]
    logger.info("Wrote %d comparison tables to %s.", len(tables), folder)
    return paths


#: The legend entry of the shaded bands of :func:`comparison_figure`.
RANGE_LABEL = "shaded: range over seeds (min to max)"


def comparison_figure(runs: pd.DataFrame, metric: str, title: str) -> Figure:
    """Best metric vs trials finished and vs wall-clock seconds: mean and range over seeds.

    Both panels show each run's best so far. Left, after n finished trials (a run with fewer
    trials keeps its final best); right, the step function of :func:`best_so_far_at`, drawn
    only from the time every seed has a finished trial (as the table). One legend names
    each searcher's line and the shaded bands.

    Returns:
        The matplotlib figure (open; :func:`plot_comparison` saves and closes it).
    """
    from meta_tune._imports import require

    plt = require("matplotlib.pyplot", extra="bench")
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    n_seeds = runs["seed"].nunique()
    fig, (ax_n, ax_t) = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    grid = np.linspace(0, float(runs["finished_s"].max()), 400)
    curves = best_so_far_at(runs, grid)
    for searcher, group in runs.groupby("searcher", sort=False):
        by_n = group.pivot_table(index="n", columns="seed", values="best").ffill()
        (line,) = ax_n.step(by_n.index, by_n.mean(axis=1), where="post", label=str(searcher))
        ax_n.fill_between(
            by_n.index, by_n.min(axis=1), by_n.max(axis=1), step="post", alpha=0.2, color=line.get_color()
        )
        stacked = curves[str(searcher)]
        full = ~np.isnan(stacked).any(axis=0)
        low = np.where(full, np.nanmin(np.where(full, stacked, 0.0), axis=0), np.nan)
        high = np.where(full, np.nanmax(np.where(full, stacked, 0.0), axis=0), np.nan)
        ax_t.step(grid, _mean_of_all(stacked), where="post", color=line.get_color(), label=str(searcher))
        ax_t.fill_between(grid, low, high, step="post", alpha=0.2, color=line.get_color())
    ax_n.set(xlabel="trials finished", ylabel=f"best {metric} so far", title="vs trials finished")
    ax_t.set(
        xlabel="wall-clock seconds since the run started",
        ylabel=f"best {metric} so far",
        title="vs wall-clock (from when every seed has a finished trial)",
    )
    ax_n.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_t.set_xlim(left=0)
    ax_n.title.set_fontsize(10)
    ax_t.title.set_fontsize(10)
    for ax in (ax_n, ax_t):
        ax.grid(alpha=0.3)
    handles, labels = ax_n.get_legend_handles_labels()
    handles.append(Patch(color="0.6", alpha=0.4))
    labels.append(RANGE_LABEL)
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, title=f"mean over {n_seeds} seed(s)",
               title_fontsize=8)  # fmt: skip
    fig.suptitle(title)
    return fig


def plot_comparison(runs: pd.DataFrame, metric: str, path: Path, title: str) -> Path:
    """Save :func:`comparison_figure` as a PNG at ``path`` and return ``path``."""
    from meta_tune._imports import require

    plt = require("matplotlib.pyplot", extra="bench")
    fig = comparison_figure(runs, metric, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
