"""``meta-tune bench``: compare searchers on YAHPO Gym meta-test tasks in simulated time."""

from __future__ import annotations

import time
from pathlib import Path

import click

from meta_tune.cli._table import echo_table


@click.command()
@click.option(
    "--scenario", required=True, help="YAHPO scenario: rbv2_xgboost, rbv2_rpart, lcbench, iaml_glmnet."
)
@click.option(
    "--methods",
    default="random,hyperopt,portfolio+random,prior",
    show_default=True,
    help="Comma-separated method names; SEARCHER@SCHEDULER adds a scheduler (e.g. hyperopt@asha).",
)
@click.option(
    "--trials",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Trials per run (at most, with --time-budget).",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="End each run after this much simulated time, in multiples of the task's median runtime.",
)
@click.option(
    "--seeds", default=5, show_default=True, type=click.IntRange(min=1), help="Runs per method and task."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Trials in flight at once."
)
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes running simulations in parallel (same results).",
)
@click.option(
    "--driver",
    type=click.Choice(["simulator", "tune"]),
    default="simulator",
    show_default=True,
    help="Simulated time in-process, or real Tune runs over a replay trainable (local Ray).",
)
@click.option("--tasks", default=None, help="Comma-separated meta-test task ids (default: all of them).")
@click.option(
    "--history-trials",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Random configs per meta-train task that transfer methods learn from.",
)
@click.option(
    "--history",
    type=click.Choice(["true", "negated", "shuffled"]),
    default="true",
    show_default=True,
    help="What transfer methods learn from: the real meta-train history, or an unrelated one.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MT_YAHPO_DIR",
    help="YAHPO data folder [env MT_YAHPO_DIR].",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for trajectories.csv, regret.csv and regret.png.",
)
def bench(
    scenario: str,
    methods: str,
    trials: int,
    time_budget: float | None,
    seeds: int,
    workers: int,
    jobs: int,
    driver: str,
    tasks: str | None,
    history_trials: int,
    history: str,
    data_dir: Path | None,
    out: Path,
) -> None:
    """Run methods on a scenario's meta-test tasks; print regret tables and save a plot."""
    from meta_tune.bench import TRIAL_BUDGETS, load_scenario, metric_bounds, regret_table, saturated_tasks
    from meta_tune.bench import summarize_regret as summarize
    from meta_tune.bench._report import budget_table, plot_regret, time_budget_steps
    from meta_tune.bench._run import BenchmarkConfig, run_benchmark
    from meta_tune.tuning._paths import check_writable_folder

    check_writable_folder(out, "--out")
    loaded = load_scenario(scenario, data_dir)
    config = BenchmarkConfig(
        methods=tuple(m.strip() for m in methods.split(",")),
        trials=trials,
        seeds=seeds,
        workers=workers,
        history_trials=history_trials,
        tasks=tuple(t.strip() for t in tasks.split(",")) if tasks else None,
        time_budget=time_budget,
        driver=driver,  # type: ignore[arg-type]
        history=history,  # type: ignore[arg-type]
    )
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    import ray

    from meta_tune.cli._progress import BenchProgress

    progress = BenchProgress(config.metric or loaded.default_metric)
    started_ray = driver == "tune" and not ray.is_initialized()
    if started_ray:
        progress.phase("Starting Ray")
        ray.init(num_cpus=max(2, workers), include_dashboard=False, log_to_driver=False)
    try:
        trajectories = run_benchmark(
            loaded, config, jobs=jobs, on_phase=progress.phase, on_run_done=progress.run_done
        )
    finally:
        if started_ray:
            ray.shutdown()
    elapsed = time.perf_counter() - started
    metric = config.metric or loaded.default_metric
    if trajectories.empty or trajectories[metric].isna().all():
        raise click.ClickException(
            "No trial reported a result within the budget; raise --time-budget or --trials (with "
            "--driver tune, Ray's start-up takes a few real seconds of every run's budget)."
        )
    trajectories.to_csv(out / "trajectories.csv", index=False)
    task_ids = sorted(trajectories["task"].unique())
    bounds = metric_bounds(loaded, metric, tasks=task_ids)
    budgets = [b for b in TRIAL_BUDGETS if b <= trials]
    table = regret_table(trajectories, bounds, budgets=budgets)
    table.to_csv(out / "regret.csv", index=False)
    saturated = sorted(set(saturated_tasks(bounds)) & set(task_ids))
    click.echo(
        f"\n{scenario}: {len(task_ids)} meta-test tasks x {seeds} seeds, {trials} trials, {workers} "
        f"worker(s), metric {metric}; {len(trajectories)} trials simulated in {elapsed:.1f} s."
    )
    click.echo("Mean (median) normalized regret and mean rank at each trial budget:")
    echo_table(budget_table(summarize(table), budgets))
    if saturated:
        click.echo(f"\nWithout the {len(saturated)} saturated tasks ({', '.join(saturated)}):")
        echo_table(budget_table(summarize(table[~table["task"].isin(saturated)]), budgets))
    if time_budget is not None:
        time_budgets = time_budget_steps(time_budget)
        by_time = regret_table(
            trajectories, bounds, budgets=time_budgets, by="time", time_unit="median_runtime"
        )
        by_time.to_csv(out / "regret_time.csv", index=False)
        click.echo("\nMean (median) normalized regret and mean rank at each simulated-time budget")
        click.echo("(multiples of the task's median runtime):")
        echo_table(budget_table(summarize(by_time), time_budgets))
    plot_regret(
        trajectories,
        bounds,
        out / "regret.png",
        max_trials=trials,
        title=f"{scenario} meta-test, {seeds} seeds, {workers} worker(s)",
        max_time=time_budget,
    )
    click.echo(f"\nWrote {out / 'trajectories.csv'}, {out / 'regret.csv'} and {out / 'regret.png'}.")
