"""``meta-tune report`` (one offline HTML file) and ``meta-tune importance`` (a table)."""

from __future__ import annotations

from pathlib import Path

import click

from meta_tune.cli._table import echo_table

_EVALUATOR = click.option(
    "--evaluator",
    type=click.Choice(["fanova", "pedanova"]),
    default="fanova",
    show_default=True,
    help="Optuna's importance evaluator: fANOVA (variance explained) or PED-ANOVA "
    "(what sets the best 10% apart).",
)


@click.command()
@click.argument("source")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The HTML file to write [default: report.html inside a SOURCE folder, else <task or family>.html].",
)
@click.option(
    "--mode",
    type=click.Choice(["min", "max"]),
    default=None,
    help="A bench folder's mode [default: read off its regret.csv].",
)
@_EVALUATOR
@click.option("--seed", default=0, show_default=True, help="Seed of the prior, importance and samples.")
@click.pass_context
def report(
    ctx: click.Context, source: str, out: Path | None, mode: str | None, evaluator: str, seed: int
) -> None:
    """Write one offline HTML report of SOURCE: a task or family of the store, or a bench or demo folder.

    It opens without a network (plotly's JavaScript is inside, ~4.7 MB): best so far vs trials
    and time, parallel coordinates, slices, learning curves with early stops, the prior
    against the outcome, the Pareto front of metric and cost, and hyperparameter importance.
    """
    from meta_tune._imports import require
    from meta_tune.report._build import write
    from meta_tune.report._data import load
    from meta_tune.store import Store
    from meta_tune.tuning._paths import check_writable_file

    require("plotly", extra="bench")
    folder = Path(source).expanduser()
    if out is None:
        out = folder / "report.html" if folder.is_dir() else Path(source.replace("/", "_") + ".html")
    check_writable_file(out, "-o/--out")
    store = (
        None if folder.is_dir() and (folder / "trajectories.csv").is_file() else Store(ctx.obj["store_url"])
    )
    data = load(source, store=store, mode=mode)  # type: ignore[arg-type]
    path = write(data, out, evaluator=evaluator, seed=seed)
    click.echo(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {data.title}.")
    for note in data.notes:
        click.echo(f"Note: {note}")


@click.command()
@click.option("--task", default=None, help="One task of the store.")
@click.option(
    "--family", default=None, help="Every task of a family, then which hyperparameters matter on most."
)
@click.option("--metric", default=None, help="Metric [default: the one each task recorded].")
@_EVALUATOR
@click.option("--seed", default=0, show_default=True, help="fANOVA's seed.")
@click.option("--per-task", is_flag=True, help="With --family: also print every task's importances.")
@click.pass_context
def importance(
    ctx: click.Context,
    task: str | None,
    family: str | None,
    metric: str | None,
    evaluator: str,
    seed: int,
    per_task: bool,
) -> None:
    """Print which hyperparameters mattered: on a task, or across the tasks of a family."""
    from meta_tune._imports import require
    from meta_tune.report import importance as score
    from meta_tune.report import summarize_importance
    from meta_tune.store import Store

    if (task is None) == (family is None):
        raise click.UsageError("give exactly one of --task and --family")
    require("optuna", extra="bench")
    store = Store(ctx.obj["store_url"])
    table = score(store, task=task, family=family, metric=metric, evaluator=evaluator, seed=seed)
    label = {"fanova": "fANOVA", "pedanova": "PED-ANOVA"}[evaluator]
    if task is not None:
        click.echo(
            f"{label} importance on {task} ({int(table['trials'].max()) if len(table) else 0} trials; "
            "sums to 1):"
        )
        echo_table(table[["param", "importance", "rank"]])
        return
    click.echo(
        f"{label} importance on the {table['task'].nunique()} tasks of {family}: top_k_share = share of "
        "tasks where it is among the 3 most important; mean, std and quartiles over tasks:"
    )
    echo_table(summarize_importance(table))
    if per_task:
        click.echo("")
        echo_table(table.pivot_table(index="task", columns="param", values="importance").reset_index())
