"""Searchers side by side on one held-out task: the main job's comparison, table and plot."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ray.tune import Callback

from meta_tune.store import Store
from meta_tune.trainables import TrainableSpec
from meta_tune.tuning._run import RunOutcome, tune_task

logger = logging.getLogger(__name__)


def held_out_history(store: Store, spec: TrainableSpec, task: str) -> pd.DataFrame:
    """The family's history in ``store`` without any trial of ``task`` itself.

    Raises:
        InvalidConfigError: (later, from the prior searcher) when nothing is left.
    """
    history = store.history(family=spec.name)
    return history[history["task"] != f"{spec.name}/{task}"].reset_index(drop=True)


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
    history = held_out_history(store, spec, task)
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


def best_at_seconds(runs: pd.DataFrame, budgets: Sequence[float]) -> pd.DataFrame:
    """Mean over seeds of the best metric after ``t`` seconds of wall-clock: searchers x budgets."""
    rows = {}
    for searcher, group in runs.groupby("searcher", sort=False):
        rows[searcher] = {
            f"{t:.0f} s": group[group["finished_s"] <= t].groupby("seed")["best"].last()
            .reindex(group["seed"].unique()).mean()
            for t in budgets
        }
    return pd.DataFrame.from_dict(rows, orient="index")


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
        rows.append({"seed": seed, "target": target, f"{searcher} trials": needed,
                     f"{baseline} trials": len(base), "ratio": needed / len(base),
                     f"{searcher} s": seconds, f"{baseline} s": base_seconds,
                     "time ratio": seconds / base_seconds})
    return pd.DataFrame(rows)


def plot_comparison(runs: pd.DataFrame, metric: str, path: Path, title: str) -> Path:
    """Save a PNG: best metric vs trials and vs wall-clock seconds, mean and range over seeds."""
    from meta_tune._imports import require

    require("matplotlib", extra="bench")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_n, ax_t) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for searcher, group in runs.groupby("searcher", sort=False):
        by_n = group.pivot_table(index="n", columns="seed", values="best").ffill()
        (line,) = ax_n.plot(by_n.index, by_n.mean(axis=1), label=searcher)
        ax_n.fill_between(by_n.index, by_n.min(axis=1), by_n.max(axis=1), alpha=0.2, color=line.get_color())
        grid = np.linspace(0, group["finished_s"].max(), 200)
        curves = [np.interp(grid, g["finished_s"], g["best"], left=np.nan) for _, g in group.groupby("seed")]
        stacked = np.vstack(curves)
        # The mean starts once every seed has finished a trial (before, a seed has no value).
        mean = np.where(np.isnan(stacked).any(axis=0), np.nan, np.nan_to_num(stacked).mean(axis=0))
        ax_t.plot(grid, mean, label=searcher, color=line.get_color())
    ax_n.set(xlabel="trials finished", ylabel=f"best {metric}", title=title)
    ax_t.set(xlabel="wall-clock seconds", ylabel=f"best {metric}")
    for ax in (ax_n, ax_t):
        ax.grid(alpha=0.3)
        ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
