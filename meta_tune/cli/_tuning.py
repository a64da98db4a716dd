"""``meta-tune run``, ``collect`` and ``demo``: tune meta-tune's trainables on Ray."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from meta_tune import schedulers, searchers
from meta_tune.cli._table import echo_table

#: The demo's held-out task per family. The image one's data ships with the ``image`` extra
#: (no Debian package), so README command 1 runs on any fresh machine.
DEMO_TASKS = {
    "image": "mnist5k_n1000",
    "text": "bbc_n500",
    "rl": "cartpole_heavy_cart",
    "meta": "sinusoid_5shot_freq",
}


def _common(fn: Any) -> Any:
    """Options every tuning command shares."""
    options = [
        click.option("--epochs", type=int, default=None, help="Epochs per trial [default: the family's]."),
        click.option(
            "--concurrency",
            type=int,
            default=None,
            help="Trials at once [default: the CPUs of the local machine, or 4 on a cluster].",
        ),
        click.option(
            "--address",
            default=None,
            help="Ray cluster to run on (e.g. 'auto' on a cluster node); default: a local Ray.",
        ),
        click.option(
            "--results-dir",
            type=click.Path(file_okay=False, path_type=Path),
            envvar="MT_STORAGE_PATH",
            default=None,
            help="Tune's storage_path (checkpoints, results); on a cluster a folder every node mounts "
            "[env MT_STORAGE_PATH; default: ~/.meta_tune/ray_results].",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


#: The flag that sets each experiment setting, so that a bad value's message names both.
FLAGS = {
    "trainable.epochs": "--epochs",
    "concurrency": "--concurrency",
    "address": "--address",
    "storage_path": "--results-dir",
    "samples": "--samples",
    "seed": "--seed",
    "resources.cpu": "--cpus-per-trial",
    "resources.gpu": "--gpus-per-trial",
    "time_budget_s": "--time-budget",
    "name": "--name",
    "metric": "--metric",
    "mode": "--mode",
}


def _spec(trainable: str) -> Any:
    from meta_tune import trainables

    return trainables.get(trainable)


def _checked(
    ctx: click.Context,
    family: str,
    task: str,
    *,
    epochs: int | None,
    concurrency: int | None,
    address: str | None,
    results_dir: Path | None,
    seeds: list[int],
) -> Any:
    """The shared options of ``collect`` and ``demo`` checked as ``run`` checks them, before any work.

    Returns the experiment of one of their runs, its concurrency filled in. The cluster at
    ``address`` must answer.
    """
    from meta_tune.store import Store
    from meta_tune.tuning import default_concurrency, load_experiment
    from meta_tune.tuning._run import check_experiment, check_reachable

    for seed in seeds:
        load_experiment(None, {"trainable.family": family, "trainable.task": task, "seed": seed},
                        labels=FLAGS)
    experiment = load_experiment(None, {
        "trainable.family": family,
        "trainable.task": task,
        "trainable.epochs": epochs,
        "concurrency": concurrency,
        "address": address,
        "storage_path": results_dir,
    }, labels=FLAGS)
    if experiment.concurrency is None:
        experiment.concurrency = default_concurrency(experiment.address)
    check_experiment(experiment, Store(ctx.obj["store_url"]))
    if address is not None:
        check_reachable(address)
    return experiment


def _epochs_note(section: Any) -> str | None:
    """What the user must know when trials run other than the family's standard epochs."""
    if section.standard_epochs:
        return None
    from meta_tune.tuning._experiment import history_epochs

    standard = history_epochs(section.family)
    return (
        f"Note: {section.run_epochs} epochs per trial differ from the {standard} of the {section.family} "
        f"history: trials are recorded as {section.store_task} (family {section.store_family}), apart from "
        f"the history that priors learn from, so curves of different lengths never mix (--epochs {standard} "
        "records with it)."
    )


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, Any] | None:
    """``KEY=VALUE`` flags as a dict, each value read as YAML (numbers, booleans, lists)."""
    import yaml

    if not values:
        return None
    options = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=flag)
        options[key.strip()] = yaml.safe_load(value)
    return options


@click.command()
@click.argument("experiment_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--trainable", default=None, help="A built-in family (see `meta-tune trainables`) [default: image]."
)
@click.option("--task", default=None, help="A task of the family, or a path to your own data.")
@click.option(
    "--searcher",
    type=click.Choice(searchers.names()),
    default=None,
    help="[default: prior] The prior searchers learn from the family's earlier runs in the store (the "
    "shipped ones included).",
)
@click.option(
    "--searcher-option",
    "searcher_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A searcher option (repeat for more), e.g. acquisition=pi.",
)
@click.option("--scheduler", type=click.Choice(schedulers.names()), default=None, help="[default: asha]")
@click.option(
    "--scheduler-option",
    "scheduler_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A scheduler option (repeat for more), e.g. reduction_factor=3.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="The metric to tune [default: the family's]; repeat for several objectives (--metric accuracy "
    "--metric time_total_s, with one --mode each): the run looks for their Pareto front.",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["min", "max"]),
    help="min or max, one per --metric, in the same order [default: the family's].",
)
@click.option("--samples", default=None, type=click.IntRange(min=1), help="Trials to run [default: 20].")
@click.option("--seed", default=None, type=int, help="Seeds the searcher and the trials [default: 0].")
@click.option("--cpus-per-trial", default=None, type=float, help="[default: 1]")
@click.option(
    "--gpus-per-trial", default=None, type=float, help="Fractions share a GPU, e.g. 0.5 [default: 0]."
)
@click.option("--time-budget", default=None, type=float, help="Seconds after which no new trial starts.")
@click.option("--name", default=None, help="The run's folder under --results-dir [default: <family>_<task>].")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted run of this name (searcher and scheduler state included); start "
    "it if there is none.",
)
@click.option("--dry-run", is_flag=True, help="Print the resolved experiment and exit.")
@_common
@click.pass_context
def run(
    ctx: click.Context,
    experiment_file: Path | None,
    trainable: str | None,
    task: str | None,
    searcher: str | None,
    searcher_options: tuple[str, ...],
    scheduler: str | None,
    scheduler_options: tuple[str, ...],
    metrics: tuple[str, ...],
    modes: tuple[str, ...],
    samples: int | None,
    seed: int | None,
    cpus_per_trial: float | None,
    gpus_per_trial: float | None,
    time_budget: float | None,
    name: str | None,
    resume: bool,
    dry_run: bool,
    epochs: int | None,
    concurrency: int | None,
    address: str | None,
    results_dir: Path | None,
) -> None:
    """Tune a trainable, recording every trial into the store under <family>/<task>.

    EXPERIMENT_FILE (YAML, see docs/experiments.md) names the trainable - a built-in family
    and task, or your own module:function and its search space - the searcher, scheduler and
    the rest; flags override it. Without a file, --task (and --trainable) say what to tune.
    """
    from meta_tune.cli._progress import Progress
    from meta_tune.store import Store
    from meta_tune.tuning import default_concurrency, load_experiment, ray_runtime, run_experiment
    from meta_tune.tuning._run import check_experiment, check_reachable

    if experiment_file is None and task is None:
        raise click.UsageError("Give an experiment file or --task (see meta-tune run --help).")
    overrides: dict[str, Any] = {
        "trainable.family": trainable or (None if experiment_file else "image"),
        "trainable.task": task,
        "trainable.epochs": epochs,
        "searcher.name": searcher,
        "searcher.options": _pairs(searcher_options, "--searcher-option"),
        "scheduler.name": scheduler,
        "scheduler.options": _pairs(scheduler_options, "--scheduler-option"),
        "metric": _one_or_list(metrics),
        "mode": _one_or_list(modes),
        "samples": samples,
        "seed": seed,
        "resources.cpu": cpus_per_trial,
        "resources.gpu": gpus_per_trial,
        "time_budget_s": time_budget,
        "name": name,
        "concurrency": concurrency,
        "address": address,
        "storage_path": results_dir,
        "store": ctx.obj["store_url"],
    }
    experiment = load_experiment(experiment_file, overrides, labels=FLAGS)
    if experiment.concurrency is None:
        experiment.concurrency = default_concurrency(experiment.address)
    if dry_run:
        click.echo(experiment.to_yaml(), nl=False)
        return
    store = Store(experiment.store)
    check_experiment(experiment, store)
    if experiment.address is not None:
        check_reachable(experiment.address)
    target = experiment.trainable
    note = _epochs_note(target)
    if note:
        click.echo(note, err=True)
    click.echo(
        f"Tuning {target.store_task} with {experiment.searcher.name} + {experiment.scheduler.name}: "
        f"{experiment.samples} trials, {experiment.concurrency} at once; recording into {store.url}."
    )
    assert experiment.metric is not None
    # A local Ray gets the CPUs for --concurrency trials of --cpus-per-trial each.
    cpus = math.ceil(experiment.concurrency * experiment.resources.cpu)
    with ray_runtime(experiment.address, num_cpus=None if experiment.address else cpus):
        progress = Progress(experiment.metric, experiment.mode, experiment.samples)
        outcome = run_experiment(experiment, store=store, resume=resume, callbacks=[progress.callback()])
    if outcome.resumed:
        click.echo(f"Resumed the interrupted run in {experiment.storage_path / experiment.run_name}.")
    if outcome.front is not None:
        _echo_front(outcome.front, experiment.metrics, experiment.modes, wall_s=outcome.wall_s)
    else:
        click.echo(f"\nDone in {outcome.wall_s:.0f} s. Best {experiment.metric}: {outcome.best:.4f} with")
        click.echo("  " + ", ".join(f"{k}={v}" for k, v in outcome.best_config.items()))
    click.echo(f"See all trials with: meta-tune store show {target.store_task}")


def _one_or_list(values: tuple[str, ...]) -> str | list[str] | None:
    """A repeated flag's values: None, the one given, or the list of them."""
    return None if not values else values[0] if len(values) == 1 else list(values)


def _echo_front(front: Any, metrics: list[str], modes: Sequence[str], *, wall_s: float) -> None:
    """Print the Pareto-optimal trials of a run with several objectives, with their configs."""
    objectives = ", ".join(f"{m} ({mode})" for m, mode in zip(metrics, modes))
    click.echo(f"\nDone in {wall_s:.0f} s. {len(front)} Pareto-optimal trial(s) of {objectives}:")
    if front.empty:
        click.echo("  none: no trial finished with every objective.")
        return
    import pandas as pd

    params = [c for c in front.columns if c not in ("trial", *metrics)]
    table = front[["trial", *metrics]].copy()
    table["config"] = [", ".join(f"{k}={row[k]}" for k in params) for _, row in front.iterrows()]
    echo_table(pd.DataFrame(table))


@click.command()
@click.option("--trainable", default="image", show_default=True)
@click.option("--tasks", default=None, help="Comma-separated tasks [default: every task of the family].")
@click.option(
    "--exclude",
    default="",
    help="Comma-separated tasks to leave out (fashion_mnist_n2000 or image/fashion_mnist_n2000).",
)
@click.option("--samples", default=30, show_default=True, type=click.IntRange(min=1), help="Trials per task.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the family's whole history to this Parquet archive.",
)
@_common
@click.pass_context
def collect(
    ctx: click.Context,
    trainable: str,
    tasks: str | None,
    exclude: str,
    samples: int,
    seed: int,
    out: Path | None,
    epochs: int | None,
    concurrency: int | None,
    address: str | None,
    results_dir: Path | None,
) -> None:
    """Build a tuning history: random search with whole learning curves on each task.

    This is how the shipped histories (meta_tune/data/<family>.parquet) were made. An
    interrupted collection continues where it stopped.
    """
    from meta_tune.cli._progress import Progress
    from meta_tune.store import Store
    from meta_tune.tuning import DEFAULT_STORAGE_PATH, ray_runtime
    from meta_tune.tuning import collect as collect_runs
    from meta_tune.tuning._paths import check_writable_file
    from meta_tune.tuning._run import task_names

    spec = _spec(trainable)
    chosen = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else list(spec.tasks)
    for task in chosen:
        spec.check_task(task)
    store = Store(ctx.obj["store_url"])
    excluded = task_names(store, spec.name, [t for t in exclude.split(",") if t.strip()], what="--exclude")
    skip = {name.removeprefix(f"{spec.name}/") for name in excluded}
    names = [t for t in chosen if t not in skip]
    if not names:
        raise click.UsageError("--exclude leaves no task to collect.")
    if out is not None:
        check_writable_file(out, "--out")
    experiment = _checked(ctx, spec.name, names[0], epochs=epochs, concurrency=concurrency, address=address,
                          results_dir=results_dir, seeds=[seed])
    width = experiment.concurrency
    note = _epochs_note(experiment.trainable)
    if note:
        click.echo(note, err=True)

    def done(task: str, outcome: Any) -> None:
        click.echo(
            f"  {task}: {len(outcome.timeline)} trials in {outcome.wall_s:.0f} s, "
            f"best {spec.metric} {outcome.best:.4f}"
        )

    click.echo(
        f"Collecting {samples} random-search trials on each of {len(names)} {spec.name} tasks "
        f"into {store.url}."
    )
    progress: list[Progress] = []

    def plan(trials: int, runs: int) -> None:
        progress.append(Progress(spec.metric, spec.mode, trials, runs=runs))

    with ray_runtime(address, num_cpus=None if address else width):
        collect_runs(
            spec,
            names,
            samples=samples,
            store=store,
            storage_path=results_dir or DEFAULT_STORAGE_PATH,
            epochs=epochs,
            seed=seed,
            concurrency=width,
            on_task_done=done,
            on_plan=plan,
            make_callbacks=lambda: [progress[0].callback()],
        )
    if out is not None:
        rows = store.export_tasks(out, family=spec.name)
        click.echo(
            f"Wrote {rows} rows of the {spec.name} history to {out} ({out.stat().st_size / 1e6:.2f} MB)."
        )


@click.command()
@click.option("--trainable", default="image", show_default=True)
@click.option(
    "--task",
    default=None,
    help="The held-out task: its own trials never feed the prior [default: "
    + ", ".join(f"{task} for {family}" for family, task in DEMO_TASKS.items())
    + "].",
)
@click.option(
    "--samples",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="Trials per searcher and seed.",
)
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("meta_tune_demo"),
    show_default=True,
    help="Folder for the plot, the tables (CSV and Markdown) and the CSV of every run.",
)
@_common
@click.pass_context
def demo(
    ctx: click.Context,
    trainable: str,
    task: str | None,
    samples: int,
    seeds: str,
    out: Path,
    epochs: int | None,
    concurrency: int | None,
    address: str | None,
    results_dir: Path | None,
) -> None:
    """The main job: PriorSearcher + ASHA vs HyperOptSearch + ASHA on a held-out task.

    The prior is learned from the family's history (shipped with meta-tune and loaded into
    the store on first use) without the held-out task. Both searchers get the same trials,
    epochs and seeds; the command prints the best metric after n trials and after t seconds
    and saves a plot.
    """
    from meta_tune.cli._progress import Progress
    from meta_tune.store import Store
    from meta_tune.tuning import DEFAULT_STORAGE_PATH, compare, load_shipped, plot_comparison, ray_runtime
    from meta_tune.tuning._compare import comparison_tables, write_tables
    from meta_tune.tuning._paths import check_writable_folder

    spec = _spec(trainable)
    if task is None and spec.name not in DEMO_TASKS:
        raise click.BadParameter(
            f"the demo learns from a family's shipped tuning history, and {spec.name!r} ships none: use "
            f"{', '.join(DEMO_TASKS)}, or give --task to tune a task of your own store's history",
            param_hint="--trainable",
        )
    task = task or DEMO_TASKS[spec.name]
    spec.check_task(task)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{seeds!r} is not a comma-separated list of integers", param_hint="--seeds"
        ) from None
    if not seed_list:
        raise click.BadParameter("give at least one seed, e.g. 0,1,2", param_hint="--seeds")
    check_writable_folder(out, "--out")
    # The plot needs matplotlib (the bench extra): said now, not after the whole demo.
    can_plot = importlib.util.find_spec("matplotlib") is not None
    if not can_plot:
        click.echo("Note: matplotlib is not installed, so the demo saves no plot (pip install "
                   "'meta-tune[bench]' for one); the tables and runs.csv come as usual.", err=True)
    width = _checked(ctx, spec.name, task, epochs=epochs, concurrency=concurrency, address=address,
                     results_dir=results_dir, seeds=seed_list).concurrency
    store = Store(ctx.obj["store_url"])
    loaded = load_shipped(store, spec.name)
    if loaded["trials"]:
        click.echo(
            f"Loaded meta-tune's shipped {spec.name} history into {store.url}: "
            f"{loaded['tasks']} tasks, {loaded['trials']} trials, {loaded['results']} curve points."
        )
    searchers = ["prior", "hyperopt"]
    click.echo(
        f"Tuning the held-out task {spec.name}/{task}: {', '.join(searchers)} (+ ASHA), {samples} trials "
        f"each, seeds {seed_list}, {width} trials at once."
    )

    def done(searcher: str, seed: int, outcome: Any) -> None:
        click.echo(f"{searcher} seed {seed}: best {spec.metric} {outcome.best:.4f} in {outcome.wall_s:.0f} s")

    runs_total = len(searchers) * len(seed_list)
    progress = Progress(spec.metric, spec.mode, samples * runs_total, runs=runs_total)
    with ray_runtime(address, num_cpus=None if address else width):
        runs = compare(
            spec,
            task,
            searchers=searchers,
            samples=samples,
            seeds=seed_list,
            store=store,
            storage_path=results_dir or DEFAULT_STORAGE_PATH,
            epochs=epochs,
            concurrency=width,
            on_run_done=done,
            make_callbacks=lambda: [progress.callback()],
        )
    out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out / "runs.csv", index=False)
    budgets = sorted({n for n in (1, 2, 4, 8, 12, 16, 24, 32, samples) if n <= samples})
    longest = float(runs["finished_s"].max())
    tables = comparison_tables(
        runs,
        metric=spec.metric,
        mode=spec.mode,
        trial_budgets=budgets,
        seconds=[longest * f for f in (0.1, 0.25, 0.5, 0.75, 1.0)],
    )
    for table in tables:
        click.echo(f"\n{table.caption}")
        echo_table(table.frame)
    write_tables(tables, out)
    reach = tables[2].frame
    reached = reach["ratio"].notna()
    if reached.any():
        click.echo(
            f"Mean ratios over the {int(reached.sum())} of {len(reach)} seed(s) where it got there: "
            f"{reach.loc[reached, 'ratio'].mean():.2f} in trials, "
            f"{reach.loc[reached, 'time ratio'].mean():.2f} in wall-clock (below 1: the prior searcher "
            "needs fewer trials / less time)."
        )
    else:
        click.echo("The prior searcher did not reach HyperOpt's final best on any seed.")
    if can_plot:
        path = plot_comparison(runs, spec.metric, out / "comparison.png", f"{spec.name}/{task}")
        click.echo(f"\nPlot: {path}   Tables: {out}/*.md, *.csv   Every trial: {out / 'runs.csv'}   "
                   "Store: meta-tune store ls")
    else:
        click.echo(f"\nTables: {out}/*.md, *.csv   Every trial: {out / 'runs.csv'}   "
                   "Store: meta-tune store ls")


@click.command("trainables")
def trainables_() -> None:
    """List the trainable families with their metric, default epochs (and their history's) and tasks."""
    from meta_tune import trainables
    from meta_tune.tuning._experiment import history_epochs

    for name in trainables.names():
        spec = trainables.get(name)
        click.echo(f"{name}: {spec.description}")
        history = history_epochs(name)
        shipped = "" if history == spec.epochs else f"; its shipped history {history} (--epochs {history})"
        click.echo(f"  metric {spec.metric} ({spec.mode}), {spec.epochs} epochs by default{shipped}")
        paths = " (or a path to your own data)" if spec.accepts_paths else ""
        click.echo(f"  tasks{paths}: {', '.join(spec.tasks)}")
