"""``meta-tune learn``: fit a prior from a task family's history in the store."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--family", required=True, help="The task family to learn from (see `meta-tune store ls`).")
@click.option("--metric", default=None, help="Metric [default: the one the family's tasks recorded].")
@click.option("--mode", type=click.Choice(["min", "max"]), default=None, help="[default: the tasks' mode]")
@click.option(
    "--space",
    "space_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Target space as JSON (SearchSpace.to_json) [default: the space the tasks recorded].",
)
@click.option(
    "--exclude",
    default="",
    help="Comma-separated tasks to leave out (e.g. the target task): fashion_mnist_n2000 or "
    "image/fashion_mnist_n2000; an unknown name is an error.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the prior (JSON, with its arrays in a .npz beside it).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also save a PNG of the prior per parameter.",
)
@click.pass_context
def learn(
    ctx: click.Context,
    family: str,
    metric: str | None,
    mode: str | None,
    space_path: Path | None,
    exclude: str,
    out: Path,
    plot_path: Path | None,
) -> None:
    """Fit a prior (portfolio, density, bounds, task weights) and save it for PriorSearcher."""
    from meta_tune.errors import InvalidConfigError
    from meta_tune.space import SearchSpace
    from meta_tune.store import Store
    from meta_tune.tuning import fit_prior
    from meta_tune.tuning._paths import check_writable_file
    from meta_tune.tuning._run import task_names

    check_writable_file(out, "-o/--out")
    if plot_path is not None:
        check_writable_file(plot_path, "--plot")
    store = Store(ctx.obj["store_url"], read_only=True)  # learning from a store changes nothing in it
    skip = task_names(store, family, [t for t in exclude.split(",") if t.strip()], what="--exclude")
    recorded = store.list_tasks(family)
    tasks = [t for t in recorded if t.name not in skip]
    if not tasks:
        raise InvalidConfigError(
            f"The store {store.url} has no tasks of family {family!r}: see `meta-tune store ls`."
        )
    metric = metric or tasks[0].metric
    mode = mode or tasks[0].mode
    if metric is None or mode not in ("min", "max"):
        raise InvalidConfigError(
            f"The {family!r} tasks recorded no metric and mode: pass --metric and --mode."
        )
    if space_path is not None:
        space = SearchSpace.from_json(space_path.read_text())
    else:
        spaces = {t.space_fingerprint: t.space for t in tasks if t.space is not None}
        if len(spaces) != 1:
            raise InvalidConfigError(
                f"The {family!r} tasks recorded {len(spaces)} different search spaces: pass the target one "
                "with --space space.json."
            )
        (space,) = spaces.values()
    history = store.history(tasks=[t.name for t in tasks])
    prior = fit_prior(history, space=space, metric=metric, mode="max" if mode == "max" else "min")
    prior.save(out)
    click.echo(
        f"Learned a prior from {len(history)} trials of {len(tasks)} {family} tasks ({metric}, {mode}); "
        f"saved to {out}. Use it with PriorSearcher(prior=Prior.load({str(out)!r}))."
    )
    if skip:
        with_runs = {t.name for t in recorded}
        left_out = [name if name in with_runs else f"{name} (no runs in the store)" for name in skip]
        click.echo(f"Left out: {', '.join(left_out)}.")
    if plot_path is not None:
        prior.plot(plot_path)
        click.echo(f"Plot: {plot_path}")
