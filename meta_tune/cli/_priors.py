"""``meta-tune priors``: list the priors that ship with meta-tune, show one, rebuild them."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from meta_tune.cli._table import echo_table


@click.group(invoke_without_command=True)
@click.pass_context
def priors(ctx: click.Context) -> None:
    """List the shipped priors (meta_tune.priors.shipped(name)); see also `priors show NAME`."""
    if ctx.invoked_subcommand is not None:
        return
    from meta_tune.priors._shipped import DATA_DIR, MODELS, history

    rows = []
    for spec in MODELS.values():
        frame = history(spec.name)
        files = [DATA_DIR / f"{spec.name}{suffix}" for suffix in (".parquet", ".json", ".npz")]
        rows.append(
            {
                "name": spec.name,
                "from": spec.scenario,
                "tasks": frame["task"].nunique(),
                "trials": len(frame),
                "parameters": ", ".join(p.name for p in spec.params),
                "MB": sum(f.stat().st_size for f in files if f.exists()) / 1e6,
            }
        )
    echo_table(pd.DataFrame(rows), float_format="{:.2f}")
    click.echo("Data: YAHPO Gym v1.0.2 (Pfisterer et al., AutoML 2022), Apache-2.0; "
               "see docs/shipped_priors.md.")


@priors.command("show")
@click.argument("name")
@click.option("--top", default=3, show_default=True, help="How many portfolio configs to show.")
def show(name: str, top: int) -> None:
    """Show a shipped prior's parameters in the library's terms and its first portfolio configs."""
    from meta_tune.priors._shipped import model, shipped

    spec = model(name)
    click.echo(f"{spec.name}: {spec.description}\nlibrary: {spec.library}\n")
    rows = [
        {
            "parameter": p.name,
            "aliases": ", ".join(p.aliases),
            "from YAHPO": p.source,
            "range": f"{p.lower:.4g} .. {p.upper:.4g}{' (log)' if p.log else ''}",
            "mapping": p.note or "exact",
        }
        for p in spec.params
    ]
    echo_table(pd.DataFrame(rows))
    prior = shipped(name)
    click.echo(f"\nFirst {top} portfolio configs (cheap, good ones first):")
    echo_table(pd.DataFrame(prior.portfolio[:top]))


@priors.command("build")
@click.option(
    "--yahpo",
    "yahpo_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The YAHPO Gym data [default: $MT_YAHPO_DIR, else ../shared/data/yahpo].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write [default: the installed package's data/priors].",
)
@click.option("--model", "models", multiple=True, help="Only this prior (repeatable) [default: all].")
@click.option("--seed", default=0, show_default=True, help="Seed of the random configs.")
def build_(yahpo_dir: Path | None, out_dir: Path | None, models: tuple[str, ...], seed: int) -> None:
    """Rebuild the shipped histories and ready priors from the YAHPO Gym surrogates."""
    from meta_tune.priors._shipped import build

    for path in build(yahpo_dir, out_dir, models=list(models) or None, seed=seed):
        click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
