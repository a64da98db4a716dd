"""What a report shows, read from a store task, a store family, a bench folder or a demo folder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    from meta_tune.space import SearchSpace
    from meta_tune.store import Store, TaskInfo

logger = logging.getLogger(__name__)

Kind = Literal["task", "family", "bench", "demo"]


@dataclass
class ReportData:
    """Every trial of the runs a report shows, in one shape whatever the source.

    Attributes:
        kind: Where it came from: ``"task"``, ``"family"``, ``"bench"`` or ``"demo"``.
        title: The report's title.
        metric: The metric tuned.
        mode: ``"min"`` or ``"max"``.
        trials: One row per finished trial: ``group`` (searcher, method or task: what the
            report compares), ``run`` (one tuning run), ``trial_id``, ``n`` (1-based order in
            its run), ``time`` (seconds from the run's start to the trial's end, see
            ``time_label``), the metric, ``best`` (the run's best so far), ``cost`` (the
            trial's own seconds, if known), then the ``params`` columns.
        params: The hyperparameter columns of ``trials``.
        time_label: What ``time`` measures.
        curves: One row per reported step: ``run``, ``trial_id``, ``step`` and the metric
            (None: the source has no learning curves).
        regret: A bench folder's normalized regret (``method``, ``task``, ``seed``,
            ``budget``, ``regret``) against trials and, in ``regret_time``, against time.
        regret_time: See ``regret``.
        family: The task family whose other tasks a prior is fitted on (None: no prior).
        store: Where that family's history is.
        space: The search space of the runs (for the prior).
        exclude: Store tasks a prior must not learn from (the task being reported).
        notes: Lines about what was left out, shown at the top of the report.
        objectives: ``(metric, mode)`` of every objective when the runs were tuned for
            several (``Store.objectives``; the first is ``metric``), else empty; ``trials``
            then has a column per objective.
    """

    kind: Kind
    title: str
    metric: str
    mode: Literal["min", "max"]
    trials: pd.DataFrame
    params: list[str]
    time_label: str
    curves: pd.DataFrame | None = None
    regret: pd.DataFrame | None = None
    regret_time: pd.DataFrame | None = None
    family: str | None = None
    store: Store | None = None
    space: SearchSpace | None = None
    exclude: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    objectives: list[tuple[str, Literal["min", "max"]]] = field(default_factory=list)


def best_so_far(values: pd.Series, mode: str) -> pd.Series:
    """The running best of ``values`` (NaN results skipped)."""
    filled = values.astype(float).fillna(-np.inf if mode == "max" else np.inf)
    best = filled.cummax() if mode == "max" else filled.cummin()
    return best.replace([np.inf, -np.inf], np.nan)


def _finished(trials: pd.DataFrame) -> pd.DataFrame:
    if "status" not in trials:
        return trials
    return trials[trials["status"].isna() | (trials["status"] == "TERMINATED")]


def _store_run(
    store: Store,
    info: TaskInfo,
    *,
    group: str,
    run: str,
    metric: str,
    mode: str,
    objectives: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """One store task as report rows (trials in recording order, time = cumulative runtime).

    ``objectives``: more metrics to give a column each (``time_total_s`` is the trial's runtime).
    """
    from meta_tune.store._objectives import objective_values

    trials = _finished(store.trials(info.name)).reset_index(drop=True)
    space = info.space
    params = [n for n in (space.names if space is not None else []) if n in trials.columns]
    if metric not in trials:
        raise InvalidConfigError(f"The task {info.name!r} has no trial with the metric {metric!r}.")
    rows = pd.DataFrame(
        {
            "group": group,
            "run": run,
            "trial_id": trials["trial_id"].astype(str),
            "n": np.arange(1, len(trials) + 1),
            metric: pd.to_numeric(trials[metric], errors="coerce"),
        }
    )
    cost = pd.to_numeric(trials.get("runtime_s", pd.Series(np.nan, index=trials.index)), errors="coerce")
    rows["cost"] = cost.to_numpy()
    rows["time"] = cost.fillna(0).cumsum().to_numpy()
    rows["best"] = best_so_far(rows[metric], mode).to_numpy()
    for name in objectives:
        if name not in rows:
            rows[name] = objective_values(trials, name).to_numpy()
    for name in params:
        rows[name] = trials[name].to_numpy()
    curves = store.curves(info.name)
    curve_rows = pd.DataFrame(
        {
            "run": run,
            "trial_id": curves["trial_id"].astype(str),
            "step": curves["training_iteration"],
            metric: pd.to_numeric(curves[metric], errors="coerce") if metric in curves else np.nan,
        }
    )
    return rows, curve_rows, params


def _checked_mode(info: TaskInfo, metric: str | None) -> tuple[str, Literal["min", "max"]]:
    name = metric or info.metric
    if name is None or info.mode not in ("min", "max"):
        raise InvalidConfigError(
            f"The task {info.name!r} recorded no metric and mode, so it cannot be reported."
        )
    return name, "max" if info.mode == "max" else "min"


def from_task(store: Store, task: str) -> ReportData:
    """A report of one store task: one run, its prior from the family's other tasks.

    Raises:
        StoreError: No such task.
        InvalidConfigError: It recorded no metric and mode, or has no finished trial.
    """
    info = store.get_task(task)
    metric, mode = _checked_mode(info, None)
    objectives = _objectives(store, [info])
    rows, curves, params = _store_run(
        store,
        info,
        group=info.name,
        run=info.name,
        metric=metric,
        mode=mode,
        objectives=[m for m, _ in objectives],
    )
    if rows.empty:
        raise InvalidConfigError(f"The task {task!r} has no finished trial to report.")
    return ReportData(
        kind="task",
        title=f"{task}: {len(rows)} trials, {_tuned_for(metric, mode, objectives)}",
        metric=metric,
        mode=mode,
        trials=rows,
        params=params,
        time_label="cumulative trial runtime, s (trials one after another)",
        curves=curves,
        family=info.family,
        store=store,
        space=info.space,
        exclude=[info.name],
        objectives=objectives,
    )


def _objectives(store: Store, infos: Sequence[TaskInfo]) -> list[tuple[str, Literal["min", "max"]]]:
    """The objectives the tasks were tuned for when they agree on several, else empty."""
    found = {tuple(store.objectives(info.name)) for info in infos}
    several = {f for f in found if len(f) > 1}
    if len(several) != 1:
        if len(several) > 1:
            logger.info("The tasks were tuned for different objectives: no Pareto front of them is drawn.")
        return []
    (objectives,) = several
    return [(m, "max" if mode == "max" else "min") for m, mode in objectives]


def _tuned_for(metric: str, mode: str, objectives: Sequence[tuple[str, str]]) -> str:
    """What the runs were tuned for, for a title: ``accuracy (max)`` or all objectives."""
    if len(objectives) > 1:
        return " and ".join(f"{m} ({mode})" for m, mode in objectives)
    return f"{metric} ({mode})"


def from_family(store: Store, family: str) -> ReportData:
    """A report of every task of a family: each task is one run; the prior learns from all.

    Raises:
        InvalidConfigError: No such family, or its tasks mix metrics.
    """
    infos = store.list_tasks(family)
    if not infos:
        names = sorted({t.family for t in store.list_tasks() if t.family})
        raise InvalidConfigError(
            f"The store {store.url} has no tasks of family {family!r} "
            f"(families: {', '.join(names) or 'none'})."
        )
    metric, mode = _checked_mode(infos[0], None)
    objectives = _objectives(store, infos)
    frames, curve_frames, params = [], [], []
    for info in infos:
        rows, curves, names = _store_run(
            store,
            info,
            group=info.name,
            run=info.name,
            metric=metric,
            mode=mode,
            objectives=[m for m, _ in objectives],
        )
        frames.append(rows)
        curve_frames.append(curves)
        params += [n for n in names if n not in params]
    spaces = {t.space_fingerprint: t.space for t in infos if t.space is not None}
    return ReportData(
        kind="family",
        title=f"family {family}: {len(infos)} tasks, {sum(len(f) for f in frames)} trials, "
        f"{_tuned_for(metric, mode, objectives)}",
        metric=metric,
        mode=mode,
        trials=pd.concat(frames, ignore_index=True),
        params=params,
        time_label="cumulative trial runtime, s (trials one after another)",
        curves=pd.concat(curve_frames, ignore_index=True),
        family=family,
        store=store,
        space=next(iter(spaces.values())) if len(spaces) == 1 else None,
        objectives=objectives,
    )


def bench_mode(trajectories: pd.DataFrame, regret: pd.DataFrame, metric: str) -> Literal["min", "max"]:
    """Whether a bench folder's metric was maximized: read off its regret table.

    A run's regret after its first trial falls as that trial's metric rises when the metric
    is maximized; the sign of the rank correlation over the runs of each task says which.
    """
    first = trajectories.sort_values("trial").groupby(["method", "task", "seed"], sort=False)[metric].first()
    at_one = regret[regret["budget"] == 1].set_index(["method", "task", "seed"])["regret"]
    joined = pd.concat([first.rename("value"), at_one.rename("regret")], axis=1, join="inner").dropna()
    score = 0.0
    for _, group in joined.groupby(level="task"):
        if group["value"].nunique() > 1 and group["regret"].nunique() > 1:
            score += float(group["value"].rank().corr(group["regret"].rank()))
    return "max" if score <= 0 else "min"


def from_bench(
    folder: Path, *, mode: Literal["min", "max"] | None = None, max_runs: int = 2000
) -> ReportData:
    """A report of a ``meta-tune bench`` output folder (``trajectories.csv``, ``regret.csv``).

    Each (method, task, seed) is one run; ``time`` is simulated seconds.

    Raises:
        InvalidConfigError: The folder lacks the bench files, or they lack a metric.
    """
    trajectories = pd.read_csv(folder / "trajectories.csv")
    regret = pd.read_csv(folder / "regret.csv") if (folder / "regret.csv").is_file() else None
    regret_time = pd.read_csv(folder / "regret_time.csv") if (folder / "regret_time.csv").is_file() else None
    known = {
        "method",
        "task",
        "seed",
        "trial",
        "trial_id",
        "start_time",
        "end_time",
        "steps",
        "stopped",
        "error",
        "suggest_s",
    }
    if not known - {"suggest_s", "steps", "stopped", "error", "trial_id"} <= set(trajectories.columns):
        raise InvalidConfigError(
            f"{folder / 'trajectories.csv'} is not a `meta-tune bench` trajectories file "
            "(it needs method, task, seed, trial, start_time and end_time columns)."
        )
    metrics = [
        c
        for c in trajectories.columns
        if c not in known and not c.startswith("config/") and pd.api.types.is_numeric_dtype(trajectories[c])
    ]
    if not metrics:
        raise InvalidConfigError(f"{folder / 'trajectories.csv'} has no metric column.")
    metric = metrics[0]
    if mode is None:
        mode = bench_mode(trajectories, regret, metric) if regret is not None else "max"
    params = [c for c in trajectories.columns if c.startswith("config/") and trajectories[c].notna().any()]
    trajectories = trajectories.sort_values(["method", "task", "seed", "trial"], kind="stable")
    run = (
        trajectories["method"].astype(str)
        + " task "
        + trajectories["task"].astype(str)
        + " seed "
        + trajectories["seed"].astype(str)
    )
    rows = pd.DataFrame(
        {
            "group": trajectories["method"].astype(str),
            "run": run,
            "task": trajectories["task"].astype(str),
            "trial_id": trajectories.get("trial_id", trajectories["trial"]).astype(str),
            "n": trajectories.groupby(["method", "task", "seed"]).cumcount() + 1,
            metric: pd.to_numeric(trajectories[metric], errors="coerce"),
            "cost": trajectories["end_time"] - trajectories["start_time"],
            "time": trajectories["end_time"],
        }
    )
    rows["best"] = rows.groupby("run", sort=False)[metric].transform(lambda v: best_so_far(v, mode))
    for name in params:
        rows[name.removeprefix("config/")] = trajectories[name].to_numpy()
    notes = [f"Metric {metric} ({mode}, read off regret.csv); time is simulated seconds."]
    curves = None
    if "steps" in trajectories:
        # A bench trial reports no curve, only how far it ran: its last step is its stop.
        curves = pd.DataFrame(
            {"run": run, "trial_id": rows["trial_id"], "step": trajectories["steps"], metric: rows[metric]}
        )
    return ReportData(
        kind="bench",
        title=f"bench {folder.name}: {rows['group'].nunique()} methods, {rows['task'].nunique()} tasks, "
        f"{run.nunique()} runs, {len(rows)} trials",
        metric=metric,
        mode=mode,
        trials=rows.reset_index(drop=True),
        params=[p.removeprefix("config/") for p in params],
        time_label="simulated seconds since the run started",
        curves=curves,
        regret=regret,
        regret_time=regret_time,
        notes=notes,
    )


def _demo_tasks(store: Store, trial_ids: set[str]) -> list[TaskInfo]:
    """The store's ``compare/...`` tasks that recorded the demo's trials."""
    found = []
    for info in store.list_tasks():
        if not info.name.startswith("compare/"):
            continue
        ids = set(store.trials(info.name)["trial_id"].astype(str))
        if ids & trial_ids:
            found.append(info)
    return found


def from_demo(folder: Path, *, store: Store | None = None) -> ReportData:
    """A report of a ``meta-tune demo`` folder (``runs.csv``), with its trials from the store.

    ``runs.csv`` has each run's timeline (searcher, seed, finish time, metric); the configs
    and learning curves come from the store the demo recorded into (its ``compare/...``
    tasks), when ``store`` has them.

    Raises:
        InvalidConfigError: ``runs.csv`` lacks the demo's columns.
    """
    runs = pd.read_csv(folder / "runs.csv")
    needed = {"trial", "finished_s", "best", "searcher", "seed", "n"}
    if not needed <= set(runs.columns):
        raise InvalidConfigError(
            f"{folder / 'runs.csv'} is not a `meta-tune demo` runs file (it lacks "
            f"{', '.join(sorted(needed - set(runs.columns)))})."
        )
    skip = needed | {"epochs", "status"}
    metric = next((c for c in runs.columns if c not in skip), None)
    if metric is None:
        raise InvalidConfigError(f"{folder / 'runs.csv'} has no metric column.")
    # best >= the trial's value throughout when maximizing
    diff = (runs["best"] - runs[metric]).dropna()
    mode: Literal["min", "max"] = "max" if (diff >= -1e-12).all() else "min"
    rows = pd.DataFrame(
        {
            "group": runs["searcher"].astype(str),
            "run": runs["searcher"].astype(str) + " seed " + runs["seed"].astype(str),
            "trial_id": runs["trial"].astype(str),
            "n": runs["n"],
            metric: pd.to_numeric(runs[metric], errors="coerce"),
            "time": runs["finished_s"],
            "best": runs["best"],
            "cost": np.nan,
        }
    )
    data = ReportData(
        kind="demo",
        title=f"demo {folder.resolve().name}: {rows['group'].nunique()} searchers x {runs['seed'].nunique()} "
        f"seeds, {metric} ({mode})",
        metric=metric,
        mode=mode,
        trials=rows,
        params=[],
        time_label="wall-clock seconds since the run started",
    )
    tasks = _demo_tasks(store, set(rows["trial_id"])) if store is not None else []
    if not tasks:
        data.notes.append(
            "The store holds none of this demo's trials, so the report has no configs, learning "
            "curves or prior (pass the --store the demo recorded into)."
        )
        return data
    configs, curve_frames, params = [], [], []
    for info in tasks:
        trials, curves, names = _store_run(store, info, group="", run="", metric=metric, mode=mode)  # type: ignore[arg-type]
        configs.append(trials[["trial_id", "cost", *names]])
        curve_frames.append(curves.drop(columns="run"))
        params += [n for n in names if n not in params]
    by_id = pd.concat(configs, ignore_index=True).drop_duplicates("trial_id")
    data.trials = rows.drop(columns="cost").merge(by_id, on="trial_id", how="left")
    data.params = params
    run_of = rows.set_index("trial_id")["run"]
    curves_all = pd.concat(curve_frames, ignore_index=True)
    curves_all["run"] = curves_all["trial_id"].map(run_of)
    data.curves = curves_all.dropna(subset=["run"])
    parts = tasks[0].name.split("/")  # compare/<family>/<task>/<searcher>/seed<k>
    if len(parts) >= 5:
        data.family = parts[1]
        data.exclude = [f"{parts[1]}/{parts[2]}"]
        data.title = f"demo {parts[1]}/{parts[2]}: " + data.title.split(": ", 1)[1]
    data.store = store
    data.space = tasks[0].space
    return data


def load(source: str, *, store: Store | None, mode: Literal["min", "max"] | None = None) -> ReportData:
    """What to report, from a folder (bench or demo output), a store task or a store family.

    Checked before any work: a folder must hold ``trajectories.csv`` (bench) or ``runs.csv``
    (demo); any other source must name a task or a family of ``store``.

    Raises:
        InvalidConfigError: ``source`` is none of these (the message says which were tried).
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / "trajectories.csv").is_file():
            return from_bench(path, mode=mode)
        if (path / "runs.csv").is_file():
            return from_demo(path, store=store)
        raise InvalidConfigError(
            f"{path} is not a `meta-tune bench` output (trajectories.csv) or a "
            "`meta-tune demo` output (runs.csv)."
        )
    if store is None:
        raise InvalidConfigError(
            f"{source!r} is not a folder, and no store was given to look it up as a task."
        )
    tasks = {t.name: t for t in store.list_tasks()}
    if source in tasks:
        return from_task(store, source)
    families = {t.family for t in tasks.values() if t.family}
    if source in families:
        return from_family(store, source)
    raise InvalidConfigError(
        f"{source!r} is not a folder, a task or a family of the store {store.url} (see `meta-tune store ls`; "
        f"families: {', '.join(sorted(families)) or 'none'})."
    )
