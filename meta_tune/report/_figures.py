"""The report's plotly figures, each built from a :class:`~meta_tune.report._data.ReportData`."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from meta_tune._imports import require
from meta_tune.report._data import ReportData
from meta_tune.report._importance import summarize_importance, trials_importance

if TYPE_CHECKING:
    import plotly.graph_objects as go

logger = logging.getLogger(__name__)

#: Most trials a scatter or parallel-coordinates view draws (a seeded sample beyond that).
MAX_POINTS = 2000
#: Most learning curves drawn.
MAX_CURVES = 300
#: Most runs drawn one line each in the best-so-far view.
MAX_RUN_LINES = 60
#: Most trials per task that importance is computed on (a seeded sample beyond that).
MAX_IMPORTANCE_TRIALS = 200

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf",
)  # fmt: skip


@dataclass(frozen=True)
class Section:
    """One part of a report: a heading, what it shows, and its figure (None: text only).

    Attributes:
        title: The heading.
        caption: What is drawn and how it was computed (HTML-escaped when rendered).
        figure: The plotly figure.
        table: A table shown under the figure.
    """

    title: str
    caption: str
    figure: go.Figure | None = None
    table: pd.DataFrame | None = None


def _go() -> Any:
    return require("plotly.graph_objects", extra="bench")


def _subplots(**kwargs: Any) -> Any:
    return require("plotly.subplots", extra="bench").make_subplots(**kwargs)


def _colors(groups: Sequence[str]) -> dict[str, str]:
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}


def _sample(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n, random_state=seed).sort_index()


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _log_param(data: ReportData, param: str, values: pd.Series) -> bool:
    """Whether ``param`` is log-scaled: as its search space says, else when its values span > 100x."""
    if data.space is not None:
        spec = next((p for p in data.space.params if p.name == param), None)
        if spec is not None:
            return bool(getattr(spec, "log", False))
    return _log_axis(values)


def _log_axis(values: pd.Series) -> bool:
    present = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(present) and present.min() > 0 and present.max() / present.min() > 100)


def mean_best_at(rows: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """The mean over runs of each run's best so far at each time; NaN until every run has a result."""
    curves = []
    for _, run in rows.groupby("run", sort=False):
        run = run.sort_values("time", kind="stable")  # noqa: PLW2901
        last = np.searchsorted(run["time"].to_numpy(dtype=float), grid, side="right") - 1
        values = run["best"].to_numpy(dtype=float)[np.maximum(last, 0)]
        curves.append(np.where(last >= 0, values, np.nan))
    stacked = np.array(curves)
    full = ~np.isnan(stacked).any(axis=0)
    return np.where(full, np.nan_to_num(stacked).mean(axis=0), np.nan)


def best_so_far_section(data: ReportData) -> Section:
    """Each run's best so far against trials and against time, and each group's mean."""
    go = _go()
    trials = data.trials
    groups = list(dict.fromkeys(trials["group"]))
    colors = _colors(groups)
    fig = _subplots(rows=1, cols=2, subplot_titles=("vs trials", f"vs {data.time_label}"))
    runs = list(dict.fromkeys(trials["run"]))
    drawn = set(runs[:MAX_RUN_LINES]) if len(runs) > MAX_RUN_LINES else set(runs)
    for group in groups:
        rows = trials[trials["group"] == group]
        for run, one in rows.groupby("run", sort=False):
            if run not in drawn:
                continue
            for col, x in ((1, one["n"]), (2, one["time"])):
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=one["best"],
                        mode="lines",
                        line={"shape": "hv", "width": 1, "color": colors[group]},
                        opacity=0.45,
                        name=str(run),
                        legendgroup=group,
                        showlegend=False,
                        hovertemplate=f"{run}<br>%{{x}}: %{{y:.4g}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
        if rows["run"].nunique() > 1:
            mean = rows.pivot_table(index="n", columns="run", values="best").ffill().mean(axis=1)
            fig.add_trace(
                go.Scatter(
                    x=mean.index,
                    y=mean.to_numpy(),
                    mode="lines",
                    name=f"{group} (mean)",
                    legendgroup=group,
                    line={"shape": "hv", "width": 3, "color": colors[group]},
                ),
                row=1,
                col=1,
            )
            grid = np.linspace(0.0, float(trials["time"].max()), 300)
            fig.add_trace(
                go.Scatter(
                    x=grid,
                    y=mean_best_at(rows, grid),
                    mode="lines",
                    name=f"{group} (mean)",
                    legendgroup=group,
                    showlegend=False,
                    line={"shape": "hv", "width": 3, "color": colors[group]},
                ),
                row=1,
                col=2,
            )
        else:
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines",
                    name=str(group),
                    legendgroup=group,
                    line={"color": colors[group], "width": 3},
                ),
                row=1,
                col=1,
            )
    fig.update_xaxes(title_text="trials finished", row=1, col=1)
    fig.update_xaxes(title_text=data.time_label, row=1, col=2)
    fig.update_yaxes(title_text=f"best {data.metric} so far", row=1, col=1)
    fig.update_layout(height=420, margin={"t": 40})
    shown = "" if len(drawn) == len(runs) else f" ({len(drawn)} of {len(runs)} runs drawn)"
    caption = (
        f"Thin lines: each run's best {data.metric} so far{shown}; thick lines: the mean over a "
        "group's runs after n trials (a run with fewer trials keeps its final best). Right: the same "
        f"against {data.time_label}; the mean starts once every run of the group has a result."
    )
    return Section("Best so far", caption, fig)


def regret_section(data: ReportData) -> Section | None:
    """A bench folder's mean normalized regret per method against trials and against time."""
    if data.regret is None:
        return None
    go = _go()
    tables = [("trials", data.regret)]
    if data.regret_time is not None:
        tables.append(("simulated time (x median runtime)", data.regret_time))
    fig = _subplots(rows=1, cols=len(tables), subplot_titles=[f"vs {t}" for t, _ in tables])
    methods = list(dict.fromkeys(data.regret["method"]))
    colors = _colors(methods)
    for col, (label, table) in enumerate(tables, start=1):
        stats = table.groupby(["method", "budget"])["regret"].agg(["mean", "std", "count"]).reset_index()
        for method in methods:
            rows = stats[stats["method"] == method]
            band = 1.96 * rows["std"].fillna(0) / np.sqrt(rows["count"])
            fig.add_trace(
                go.Scatter(
                    x=rows["budget"],
                    y=(rows["mean"] + band),
                    mode="lines",
                    line={"width": 0},
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=method,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=rows["budget"],
                    y=(rows["mean"] - band).clip(lower=1e-4),
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=_alpha(colors[method], 0.15),
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=method,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=rows["budget"],
                    y=rows["mean"],
                    mode="lines+markers",
                    name=method,
                    legendgroup=method,
                    showlegend=col == 1,
                    line={"color": colors[method]},
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(type="log", title_text=label, row=1, col=col)
        fig.update_yaxes(type="log", title_text="mean normalized regret", row=1, col=col)
    fig.update_layout(height=420, margin={"t": 40})
    caption = (
        "Mean normalized regret over every (task, seed) run of each method, from regret.csv"
        + (" and regret_time.csv" if data.regret_time is not None else "")
        + "; shaded: 95% CI of the mean. Log axes."
    )
    return Section("Searchers compared: normalized regret", caption, fig)


def _alpha(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _dimension(values: pd.Series, label: str, log: bool) -> dict[str, Any] | None:
    if values.isna().any() or values.nunique() < 2:
        return None
    if _is_numeric(values):
        if log and values.min() > 0:
            logged = np.log10(values.astype(float))
            ticks = np.arange(math.floor(logged.min()), math.ceil(logged.max()) + 1)
            return {
                "label": f"{label} (log10)",
                "values": logged,
                "tickvals": ticks,
                "ticktext": [f"1e{int(t)}" for t in ticks],
            }
        return {"label": label, "values": values.astype(float)}
    categories = sorted(values.astype(str).unique())
    codes = values.astype(str).map({c: i for i, c in enumerate(categories)})
    return {"label": label, "values": codes, "tickvals": list(range(len(categories))), "ticktext": categories}


def parallel_section(data: ReportData) -> Section | None:
    """Every trial as a line through its hyperparameters to its metric value."""
    if not data.params:
        return None
    go = _go()
    trials = _sample(data.trials.dropna(subset=[data.metric]), MAX_POINTS)
    built = {p: _dimension(trials[p], p, _log_param(data, p, trials[p])) for p in data.params}
    dims = [d for d in built.values() if d is not None]
    skipped = [p for p, d in built.items() if d is None]
    if not dims:
        return None
    dims.append({"label": data.metric, "values": trials[data.metric]})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": trials[data.metric],
                "colorscale": "Viridis",
                "showscale": True,
                "reversescale": data.mode == "min",
            },
            dimensions=dims,
        )
    )
    fig.update_layout(height=460, margin={"l": 60, "r": 60, "t": 60})
    caption = (
        f"{len(trials)} trials{' (a seeded sample)' if len(trials) < len(data.trials) else ''}, coloured by "
        f"{data.metric} (yellow: better). Drag along an axis to select a range."
    )
    if skipped:
        caption += f" Not drawn (constant, or missing in some trials): {', '.join(skipped)}."
    return Section("Parallel coordinates", caption, fig)


def slice_section(data: ReportData) -> Section | None:
    """The metric against each hyperparameter, one panel each, every trial a dot."""
    params = [p for p in data.params if data.trials[p].notna().any()]
    if not params:
        return None
    go = _go()
    trials = _sample(data.trials.dropna(subset=[data.metric]), MAX_POINTS)
    cols = min(4, len(params))
    rows = math.ceil(len(params) / cols)
    fig = _subplots(
        rows=rows, cols=cols, subplot_titles=params, vertical_spacing=0.5 / rows, horizontal_spacing=0.06
    )
    groups = list(dict.fromkeys(trials["group"]))
    colors = _colors(groups)
    legend = len(groups) <= 12
    for i, param in enumerate(params):
        r, c = divmod(i, cols)
        for group in groups:
            rows_g = trials[(trials["group"] == group) & trials[param].notna()]
            x = rows_g[param] if _is_numeric(rows_g[param]) else rows_g[param].astype(str)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=rows_g[data.metric],
                    mode="markers",
                    name=str(group),
                    legendgroup=group,
                    showlegend=legend and i == 0,
                    marker={"size": 5, "color": colors[group], "opacity": 0.6},
                ),
                row=r + 1,
                col=c + 1,
            )
        if _is_numeric(trials[param]) and _log_param(data, param, trials[param]):
            fig.update_xaxes(type="log", row=r + 1, col=c + 1)
    fig.update_layout(height=max(300, 260 * rows), margin={"t": 40}, showlegend=legend)
    caption = (
        f"{data.metric} of each trial against each hyperparameter (log axis where the search space is "
        "log-scaled, or without a space where values span > 100x)."
    )
    return Section("Slices per hyperparameter", caption, fig)


def curves_section(data: ReportData) -> Section | None:
    """Learning curves, with a cross where a scheduler stopped a trial early."""
    curves = data.curves
    if curves is None or curves.empty or curves[data.metric].isna().all():
        return None
    go = _go()
    max_step = curves.groupby("run")["step"].transform("max")
    last = curves.groupby(["run", "trial_id"])["step"].transform("max")
    stops = curves[(curves["step"] == last) & (last < max_step)]
    per_trial = curves.groupby(["run", "trial_id"]).size()
    if data.kind == "bench" or per_trial.max() <= 1:
        # Only where each trial stopped: how far trials ran, per group.
        steps = (
            data.trials.assign(step=curves["step"].to_numpy()) if len(curves) == len(data.trials) else None
        )
        if steps is None or steps["step"].nunique() < 2:
            return None
        fig = go.Figure()
        for group in dict.fromkeys(steps["group"]):
            fig.add_trace(
                go.Histogram(x=steps.loc[steps["group"] == group, "step"], name=str(group), opacity=0.6)
            )
        fig.update_layout(
            barmode="overlay",
            height=380,
            xaxis_title="steps a trial ran before it ended",
            yaxis_title="trials",
            margin={"t": 30},
        )
        return Section(
            "Where trials stopped",
            "The bench records no curves, only how many steps each trial ran: "
            "fewer than the maximum means a scheduler stopped it.",
            fig,
        )
    keys = list(per_trial.index)
    if len(keys) > MAX_CURVES:
        rng = np.random.default_rng(0)
        keys = [keys[i] for i in sorted(rng.choice(len(keys), MAX_CURVES, replace=False))]
    run_group = data.trials.drop_duplicates("run").set_index("run")["group"]
    groups = list(dict.fromkeys(run_group))
    colors = _colors(groups)
    fig = go.Figure()
    by_trial = dict(iter(curves.sort_values("step").groupby(["run", "trial_id"], sort=False)))
    seen: set[str] = set()
    for run, trial_id in keys:
        one = by_trial[(run, trial_id)]
        group = str(run_group.get(run, run))
        fig.add_trace(
            go.Scatter(
                x=one["step"],
                y=one[data.metric],
                mode="lines",
                line={"width": 1, "color": colors.get(group, PALETTE[0])},
                opacity=0.5,
                name=group,
                legendgroup=group,
                showlegend=group not in seen and len(groups) <= 12,
                hovertemplate=f"{run} {trial_id}<br>step %{{x}}: %{{y:.4g}}<extra></extra>",
            )
        )
        seen.add(group)
    if len(stops):
        fig.add_trace(
            go.Scatter(
                x=stops["step"],
                y=stops[data.metric],
                mode="markers",
                name="stopped early",
                marker={"symbol": "x", "size": 8, "color": "black"},
            )
        )
    fig.update_layout(
        height=420, xaxis_title="step (training_iteration)", yaxis_title=data.metric, margin={"t": 30}
    )
    caption = (
        f"{len(keys)} of {len(per_trial)} trials' learning curves; a cross marks the step where a trial "
        f"ended before its run's longest trial ({len(stops)} trials): a scheduler stopped it."
    )
    return Section("Learning curves", caption, fig)


def pareto_front(values: np.ndarray, cost: np.ndarray, mode: str) -> np.ndarray:
    """Indices of the trials no other trial beats in both the metric and the cost, by cost."""
    score = values if mode == "min" else -values
    order = np.lexsort((score, cost))
    front, best = [], np.inf
    for i in order:
        if score[i] < best:
            front.append(i)
            best = score[i]
    return np.array(front, dtype=int)


def pareto_section(data: ReportData) -> Section | None:
    """The trade-off between the metric and a trial's cost (seconds), where costs are known."""
    trials = data.trials.dropna(subset=[data.metric, "cost"])
    trials = trials[np.isfinite(trials["cost"].astype(float))]
    if len(trials) < 3 or trials["cost"].nunique() < 2:
        return None
    go = _go()
    shown = _sample(trials, MAX_POINTS)
    front = trials.iloc[
        pareto_front(trials[data.metric].to_numpy(float), trials["cost"].to_numpy(float), data.mode)
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=shown["cost"],
            y=shown[data.metric],
            mode="markers",
            name="trials",
            marker={"size": 5, "color": "#9aa", "opacity": 0.6},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=front["cost"],
            y=front[data.metric],
            mode="lines+markers",
            name="Pareto front",
            line={"shape": "hv", "color": "#d62728"},
            marker={"size": 8},
        )
    )
    fig.update_layout(height=400, xaxis_title="trial cost, s", yaxis_title=data.metric, margin={"t": 30})
    if _log_axis(shown["cost"]):
        fig.update_xaxes(type="log")
    caption = (
        f"Two objectives: {data.metric} ({data.mode}) and each trial's own cost in seconds (min). "
        f"{len(front)} trials are on the front: none is beaten on both by another trial."
    )
    return Section("Pareto front: metric against cost", caption, fig)


#: Most objectives drawn as pairwise panels (4 objectives: 6 panels); the first ones are drawn.
MAX_PANEL_OBJECTIVES = 4


def front_hypervolume(points: np.ndarray, modes: Sequence[str]) -> tuple[np.ndarray, float, np.ndarray]:
    """Which rows are Pareto-optimal, their hypervolume and its reference point.

    Args:
        points: One row per trial, one column per objective (finite values).
        modes: ``"min"`` or ``"max"`` per column.

    Returns:
        The non-dominated mask over every objective, the hypervolume dominated by the front,
        and the reference point it is measured against: the worst observed value of each
        objective (so a trial that is worst on one objective adds no volume).
    """
    from meta_tune.priors import hypervolume, pareto_mask

    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    oriented = np.asarray(points, dtype=float) * signs
    reference = oriented.max(axis=0)
    return pareto_mask(oriented), hypervolume(oriented, reference), reference * signs


def _staircase(x: np.ndarray, y: np.ndarray, modes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 2-D front of ``(x, y)`` as points in x order, for a line joining them."""
    from meta_tune.priors import pareto_mask

    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    mask = pareto_mask(np.column_stack([x, y]) * signs)
    order = np.argsort(x[mask], kind="stable")
    return x[mask][order], y[mask][order]


def objectives_section(data: ReportData) -> Section | None:
    """The Pareto front of a run tuned for several objectives, with each run's hypervolume.

    Two objectives are one scatter; three or more are pairwise panels of the first
    :data:`MAX_PANEL_OBJECTIVES`. A trial is Pareto-optimal when no trial of its run (task)
    is at least as good on every objective and better on one, judged on all objectives; in a
    panel of two of three objectives a front trial may look dominated. Each run's front is
    drawn in its colour, joined as a staircase over the panel's two objectives; dominated
    trials are faded. The hypervolume is measured against the worst observed value of each
    objective in that run.
    """
    if len(data.objectives) < 2:
        return None
    metrics = [m for m, _ in data.objectives]
    modes = [mode for _, mode in data.objectives]
    trials = data.trials.dropna(subset=metrics)
    trials = trials[np.isfinite(trials[metrics].to_numpy(float)).all(axis=1)]
    if len(trials) < 2:
        return None
    go = _go()
    shown_metrics = metrics[:MAX_PANEL_OBJECTIVES]
    pairs = [(i, j) for i in range(len(shown_metrics)) for j in range(i + 1, len(shown_metrics))]
    columns = min(len(pairs), 3)
    rows_n = math.ceil(len(pairs) / columns)
    fig = _subplots(
        rows=rows_n,
        cols=columns,
        subplot_titles=[f"{shown_metrics[j]} against {shown_metrics[i]}" for i, j in pairs]
        if len(pairs) > 1
        else None,
    )
    groups = list(dict.fromkeys(trials["group"]))
    colors = _colors(groups)
    table = []
    for group in groups:
        part = trials[trials["group"] == group]
        points = part[metrics].to_numpy(float)
        mask, volume, reference = front_hypervolume(points, modes)
        table.append(
            {
                "run": group,
                "trials": len(part),
                "Pareto-optimal": int(mask.sum()),
                "hypervolume": volume,
                "reference point (worst observed)": ", ".join(
                    f"{m} {v:.4g}" for m, v in zip(metrics, reference)
                ),
            }
        )
        color = colors[group]
        for k, (i, j) in enumerate(pairs):
            row, col = k // columns + 1, k % columns + 1
            first = k == 0
            x, y = points[:, i], points[:, j]
            fig.add_trace(
                go.Scatter(
                    x=x[~mask],
                    y=y[~mask],
                    mode="markers",
                    name=f"{group}: dominated",
                    legendgroup=f"{group}-d",
                    showlegend=first,
                    marker={"size": 5, "color": color, "opacity": 0.25},
                    text=part["trial_id"][~mask],
                    hovertemplate="%{text}<extra>dominated</extra>",
                ),
                row=row,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=x[mask],
                    y=y[mask],
                    mode="markers",
                    name=f"{group}: Pareto-optimal",
                    legendgroup=f"{group}-f",
                    showlegend=first,
                    marker={"size": 9, "color": color, "line": {"width": 1, "color": "#222"}},
                    text=part["trial_id"][mask],
                    hovertemplate="%{text}<extra>Pareto-optimal</extra>",
                ),
                row=row,
                col=col,
            )
            sx, sy = _staircase(x, y, [modes[i], modes[j]])
            fig.add_trace(
                go.Scatter(
                    x=sx,
                    y=sy,
                    mode="lines",
                    name=f"{group}: front",
                    legendgroup=f"{group}-f",
                    showlegend=False,
                    line={
                        "shape": "hv" if modes[i] == "min" else "vh",
                        "color": color,
                    },
                    hoverinfo="skip",
                ),
                row=row,
                col=col,
            )
            fig.update_xaxes(title_text=f"{shown_metrics[i]} ({modes[i]})", row=row, col=col)
            fig.update_yaxes(title_text=f"{shown_metrics[j]} ({modes[j]})", row=row, col=col)
    volumes = pd.DataFrame(table)
    title = None
    if len(table) == 1:
        title = (
            f"hypervolume {table[0]['hypervolume']:.4g} (reference: worst observed, "
            f"{table[0]['reference point (worst observed)']})"
        )
    fig.update_layout(height=430 * rows_n, title=title, margin={"t": 60 if title else 40})
    shown = "" if len(metrics) <= MAX_PANEL_OBJECTIVES else f" (the first {MAX_PANEL_OBJECTIVES} are drawn)"
    caption = (
        f"{len(metrics)} objectives{shown}: "
        + ", ".join(f"{m} ({mode})" for m, mode in zip(metrics, modes))
        + ". Large markers are the Pareto-optimal trials of each run (no trial of the run is at least as "
        "good on every objective and better on one), joined as a front; faded ones are dominated. "
        + (
            "With more than two objectives each panel shows two of them, and a trial on the front may look "
            "dominated in a panel. "
            if len(metrics) > 2
            else ""
        )
        + "The hypervolume is the volume the front dominates up to the reference point: each objective's "
        "worst observed value in the run (larger is better; runs on other tasks are not comparable)."
    )
    return Section("Pareto front of the objectives", caption, fig, table=volumes)


def importance_sections(data: ReportData, *, evaluator: str = "fanova", seed: int = 0) -> list[Section]:
    """Importance (fANOVA or PED-ANOVA) per task, and across tasks: spread, how often in the top 3."""
    if not data.params:
        return []
    go = _go()
    unit = "task" if data.kind in ("family", "bench") else None
    per_task = []
    keys = data.trials["task"] if data.kind == "bench" else data.trials["group"] if unit else None
    groups = [("all trials", data.trials)] if keys is None else list(data.trials.groupby(keys, sort=False))
    for name, all_rows in groups:
        scores = trials_importance(
            _sample(all_rows, MAX_IMPORTANCE_TRIALS),
            data.params,
            metric=data.metric,
            mode=data.mode,
            evaluator=evaluator,
            seed=seed,
        )
        per_task += [{"task": str(name), "param": p, "importance": float(v)} for p, v in scores.items()]
    table = pd.DataFrame(per_task, columns=["task", "param", "importance"])
    if table.empty:
        return [
            Section(
                "Hyperparameter importance",
                "Too few finished trials (or no varying hyperparameter) to score importance.",
            )
        ]
    label = {"fanova": "fANOVA", "pedanova": "PED-ANOVA"}.get(evaluator, evaluator)
    if unit is None:
        ordered = table.sort_values("importance")
        fig = go.Figure(
            go.Bar(x=ordered["importance"], y=ordered["param"], orientation="h", marker={"color": PALETTE[0]})
        )
        fig.update_layout(
            height=max(260, 28 * len(ordered)), xaxis_title="importance (sums to 1)", margin={"t": 30}
        )
        caption = (
            f"{label} importance (Optuna's evaluator) of each hyperparameter for {data.metric}, over all "
            f"{len(data.trials)} trials of the report."
        )
        return [Section("Hyperparameter importance", caption, fig)]
    summary = summarize_importance(table)
    order = list(summary["param"])
    fig = _subplots(
        rows=1,
        cols=2,
        column_widths=[0.65, 0.35],
        subplot_titles=(
            "importance on each task (box: spread over tasks)",
            "share of tasks where it is in the top 3",
        ),
    )
    for param in order:
        vals = table.loc[table["param"] == param, "importance"]
        fig.add_trace(
            go.Box(
                y=vals,
                name=param,
                boxpoints="all",
                jitter=0.4,
                marker={"size": 4},
                line={"color": PALETTE[0]},
                showlegend=False,
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(x=order, y=summary["top_k_share"], marker={"color": PALETTE[1]}, showlegend=False),
        row=1,
        col=2,
    )
    fig.update_yaxes(title_text="importance", row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(height=440, margin={"t": 40})
    caption = (
        f"{label} importance (Optuna's evaluator) on each of the {table['task'].nunique()} tasks "
        f"(at most {MAX_IMPORTANCE_TRIALS} trials each, a seeded sample), for {data.metric}. Parameters in "
        "order of how often they are among a task's 3 most important."
    )
    return [Section("Hyperparameter importance across tasks", caption, fig, table=summary.round(3))]


def prior_section(data: ReportData, *, n_samples: int = 1000, seed: int = 0) -> list[Section]:
    """The prior (from the family's other tasks) against the configs that did best here."""
    if data.family is None or data.store is None or data.space is None:
        return []
    from meta_tune.errors import MetaTuneError
    from meta_tune.priors import fit

    history = data.store.history(family=data.family)
    history = history[~history["task"].isin(data.exclude)].reset_index(drop=True)
    keep = ["task", "trial_id", "status", *data.space.names, data.metric, "runtime_s", "training_iteration"]
    history = history[[c for c in history.columns if c in keep or c.startswith("meta:")]]
    try:
        prior = fit(history, space=data.space, metric=data.metric, mode=data.mode, seed=seed)
    except MetaTuneError as err:
        return [Section("The prior against the outcome", f"No prior: {err}")]
    go = _go()
    space = data.space
    samples = pd.DataFrame([space.flatten(c) for c in prior.sample(n_samples, np.random.default_rng(seed))])
    portfolio = pd.DataFrame([space.flatten(c) for c in prior.portfolio])
    ranked = data.trials.dropna(subset=[data.metric]).sort_values(data.metric, ascending=data.mode == "min")
    best = ranked.head(5)
    params = [p for p in data.params if p in samples]
    cols = min(4, len(params))
    rows = math.ceil(len(params) / cols)
    fig = _subplots(
        rows=rows,
        cols=cols,
        subplot_titles=params,
        vertical_spacing=0.5 / max(rows, 1),
        horizontal_spacing=0.06,
    )
    for i, param in enumerate(params):
        r, c = divmod(i, cols)
        numeric = _is_numeric(samples[param])
        log = numeric and _log_param(data, param, samples[param])

        def x_of(v: pd.Series, numeric: bool = numeric, log: bool = log) -> pd.Series:
            return np.log10(v.astype(float)) if log else v if numeric else v.astype(str)

        first = i == 0
        fig.add_trace(
            go.Histogram(
                x=x_of(samples[param]),
                histnorm="probability",
                name="prior density (samples)",
                marker={"color": "#9ecae1"},
                showlegend=first,
                legendgroup="density",
            ),
            row=r + 1,
            col=c + 1,
        )
        fig.add_trace(
            go.Scatter(
                x=x_of(portfolio[param]) if param in portfolio else [],
                y=[0] * len(portfolio),
                mode="markers",
                name="prior portfolio",
                marker={"symbol": "triangle-up", "size": 10, "color": "#ff7f0e"},
                showlegend=first,
                legendgroup="portfolio",
            ),
            row=r + 1,
            col=c + 1,
        )
        fig.add_trace(
            go.Scatter(
                x=x_of(best[param].dropna()),
                y=[0.02] * int(best[param].notna().sum()),
                mode="markers",
                name="5 best configs here",
                marker={"symbol": "star", "size": 11, "color": "#d62728"},
                showlegend=first,
                legendgroup="best",
            ),
            row=r + 1,
            col=c + 1,
        )
        if log:
            fig.update_xaxes(title_text="log10", row=r + 1, col=c + 1)
    fig.update_layout(height=max(300, 260 * rows), margin={"t": 40}, barmode="overlay")
    sections = [
        Section(
            "The prior against the outcome",
            f"Blue: {n_samples} samples of the prior's density, fitted on the "
            f"{history['task'].nunique()} other tasks of family {data.family} ({len(history)} trials); "
            f"orange: its portfolio ({len(portfolio)} configs tried first); "
            "red stars: the 5 best configs of this report.",
            fig,
        )
    ]
    weights = _weights_over_time(prior, data, space)
    if weights is not None:
        wfig = go.Figure()
        for name in weights.columns:
            wfig.add_trace(
                go.Scatter(x=weights.index, y=weights[name], mode="lines", stackgroup="w", name=name)
            )
        wfig.update_layout(
            height=380,
            xaxis_title="trials observed",
            yaxis_title="weight",
            margin={"t": 30},
            yaxis_range=[0, 1],
        )
        sections.append(
            Section(
                "Task-similarity weights over time",
                "How much each training task (and 'no transfer') counts as this run's results come in "
                f"(prior.task_weights after each trial of the first run, {weights.index.max()} trials).",
                wfig,
            )
        )
    return sections


def _weights_over_time(prior: Any, data: ReportData, space: Any) -> pd.DataFrame | None:
    first_run = data.trials[data.trials["run"] == data.trials["run"].iloc[0]]
    params = [p for p in data.params if p in first_run]
    configs, values, rows = [], [], {}
    for n, row in enumerate(first_run.itertuples(index=False), start=1):
        record = dict(zip(first_run.columns, row, strict=True))
        try:
            configs.append(space.from_flat({p: record[p] for p in params}))
        except (KeyError, ValueError, TypeError) as err:
            logger.debug("No task weights: %s", err)
            return None
        values.append(float(record[data.metric]))
        weights = prior.task_weights(configs, values)
        rows[n] = [*weights.tasks, weights.none]
    if not rows:
        return None
    return pd.DataFrame.from_dict(rows, orient="index", columns=[*prior.task_names, "no transfer"])
