"""``meta-tune store ...``: look into the experiment store and import Tune runs into it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from meta_tune.cli._table import echo_table

if TYPE_CHECKING:
    from meta_tune.store import Store


def _open(ctx: click.Context, *, read_only: bool = False) -> Store:
    """The store of ``--store``; commands that only read open it read-only (nothing is changed)."""
    from meta_tune.store import Store

    return Store(ctx.obj["store_url"], read_only=read_only)


@click.group()
def store() -> None:
    """Inspect the experiment store of past tuning runs."""


@store.command("ls")
@click.option("--family", default=None, help="Only tasks of this family.")
@click.pass_context
def ls(ctx: click.Context, family: str | None) -> None:
    """List the tasks in the store with their trial counts."""
    st = _open(ctx, read_only=True)
    rows = []
    for task in st.list_tasks(family=family):
        trials = st.trials(task.name)
        best = None
        if task.metric in trials and trials[task.metric].notna().any():
            col = trials[task.metric]
            best = col.max() if task.mode == "max" else col.min()
        objectives = st.objectives(task.name)  # several: "acc,time_total_s" "max,min"; best is the first's
        rows.append(
            {
                "task": task.name,
                "family": task.family or "",
                "metric": ",".join(m for m, _ in objectives) if len(objectives) > 1 else task.metric,
                "mode": ",".join(d for _, d in objectives) if len(objectives) > 1 else task.mode,
                "trials": len(trials),
                "best": best,
            }
        )
    if not rows:
        click.echo(f"No tasks{' of family ' + family if family else ''} in {st.url}.")
        return
    echo_table(pd.DataFrame(rows))


@store.command("show")
@click.argument("task")
@click.option("--top", default=20, show_default=True, help="How many trials to show (best first).")
@click.option("--curves", is_flag=True, help="Show the learning curves (one row per step) instead.")
@click.pass_context
def show(ctx: click.Context, task: str, top: int, curves: bool) -> None:
    """Show a task's trials, best first (or its learning curves with --curves)."""
    st = _open(ctx, read_only=True)
    info = st.get_task(task)
    frame = st.curves(task) if curves else st.trials(task)
    click.echo(
        f"task {info.name}  family={info.family or '-'}  metric={info.metric} ({info.mode})  "
        f"trials={frame['trial_id'].nunique() if len(frame) else 0}"
    )
    if not curves and info.metric in frame:
        frame = frame.sort_values(info.metric, ascending=info.mode == "min", na_position="last")
    echo_table(frame.head(top) if not curves else frame)


@store.command("import")
@click.argument("experiment_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--task", required=True, help="Task name to record the trials under.")
@click.option("--metric", default=None, help="Metric to optimize (default: from the experiment).")
@click.option("--mode", type=click.Choice(["min", "max"]), default=None)
@click.option("--family", default=None, help="Task family, for meta-learning across related tasks.")
@click.pass_context
def import_(
    ctx: click.Context,
    experiment_dir: Path,
    task: str,
    metric: str | None,
    mode: str | None,
    family: str | None,
) -> None:
    """Import a finished Tune experiment directory (idempotent: re-importing adds nothing)."""
    st = _open(ctx)
    counts = st.import_experiment(experiment_dir, task=task, metric=metric, mode=mode, family=family)
    click.echo(
        f"Imported {experiment_dir} into task {task!r} of {st.url}: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
    )


@store.command("export")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--family", default=None, help="Only tasks of this family.")
@click.option("--task", "tasks", multiple=True, help="Only this task (repeatable).")
@click.pass_context
def export(ctx: click.Context, archive: Path, family: str | None, tasks: tuple[str, ...]) -> None:
    """Write tasks with their trials and curves to a Parquet ARCHIVE (load it with `store load`)."""
    from meta_tune.tuning._paths import check_writable_file

    check_writable_file(archive, "ARCHIVE")
    st = _open(ctx, read_only=True)
    rows = st.export_tasks(archive, family=family, tasks=tasks or None)
    click.echo(f"Wrote {rows} rows to {archive} ({archive.stat().st_size / 1e6:.2f} MB).")


@store.command("load")
@click.argument("archive", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--family", default=None, help="Only tasks of this family.")
@click.option("--shipped", is_flag=True, help="Load the histories meta-tune ships (of --family, or all).")
@click.pass_context
def load(ctx: click.Context, archive: Path | None, family: str | None, shipped: bool) -> None:
    """Load a Parquet ARCHIVE of tasks (or, with --shipped, meta-tune's own) into the store; idempotent."""
    from meta_tune.tuning import SHIPPED_DIR, load_shipped

    st = _open(ctx)
    if shipped == (archive is not None):
        raise click.UsageError("Give either an ARCHIVE or --shipped.")
    if archive is not None:
        counts = st.load_archive(archive, family=family)
    else:
        families = [family] if family else sorted(p.stem for p in SHIPPED_DIR.glob("*.parquet"))
        counts = {"tasks": 0, "trials": 0, "results": 0}
        for name in families:
            for key, value in load_shipped(st, name).items():
                counts[key] += value
    click.echo(f"Loaded into {st.url}: " + ", ".join(f"{v} new {k}" for k, v in counts.items()))


@store.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the store without changing it: integrity, schema version, counts (exit 1 on problems)."""
    from meta_tune.store import check_store, default_store_url

    report = check_store(ctx.obj["store_url"] or default_store_url())
    version = "-" if report.schema_version is None else str(report.schema_version)
    click.echo(f"store    {report.url}")
    click.echo(f"schema   version {version} (this meta-tune reads up to {report.supported_version})")
    if report.tasks is not None:
        statuses = ", ".join(f"{n} {status}" for status, n in report.statuses.items())
        click.echo(f"tasks    {report.tasks}")
        click.echo(f"trials   {report.trials}" + (f" ({statuses})" if statuses else ""))
        click.echo(f"results  {report.results}")
    if report.ok:
        click.echo("check    ok")
        return
    click.echo(f"check    {len(report.problems)} problem(s):")
    for problem in report.problems:
        click.echo(f"  {problem}")
    raise SystemExit(1)


@store.command("init")
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create meta-tune's tables in the store, also in a database that holds other tables."""
    from meta_tune.store import Store

    st = Store(ctx.obj["store_url"], create=True)
    click.echo(f"{st.url} is a meta-tune store (schema version {st.schema_version}).")
