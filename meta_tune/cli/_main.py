"""Entry point and global options of the ``meta-tune`` command."""

from __future__ import annotations

import logging
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from meta_tune import __version__
from meta_tune.cli._bench import bench
from meta_tune.cli._learn import learn
from meta_tune.cli._priors import priors
from meta_tune.cli._report import importance, report
from meta_tune.cli._store import store
from meta_tune.cli._submit import submit
from meta_tune.cli._tuning import collect, demo, run, trainables_
from meta_tune.errors import MetaTuneError

LOG_LEVELS = ["debug", "info", "warning", "error"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meta-tune")
@click.option(
    "--store",
    "store_url",
    envvar="MT_STORE",
    default=None,
    metavar="URL",
    help="Experiment store: sqlite:///path.db or postgresql+psycopg://user@host/db "
    "[env MT_STORE; default sqlite:///~/.meta_tune/store.db].",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="warning",
    show_default=True,
    help="How much meta-tune logs to stderr.",
)
@click.pass_context
def cli(ctx: click.Context, store_url: str | None, log_level: str) -> None:
    """meta-tune: Ray Tune searchers and schedulers that learn from earlier tuning runs."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"store_url": store_url}


for command in (bench, collect, demo, importance, learn, priors, report, run, store, submit, trainables_):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; meta-tune's own errors end the command with their message, not a traceback."""
    try:
        return cli.main(args=argv, prog_name="meta-tune", standalone_mode=False)
    except click.exceptions.Abort:
        raise SystemExit(130) from None
    except click.ClickException as err:
        err.show()
        raise SystemExit(err.exit_code) from None
    except MetaTuneError as err:
        from meta_tune.store._url import mask_url

        click.echo(f"Error: {mask_url(str(err))}", err=True)
        raise SystemExit(1) from None
    except SQLAlchemyError as err:  # a database error no store method turned into a StoreError
        from meta_tune.store._store import reason

        click.echo(f"Error: the store failed: {reason(err)}", err=True)
        raise SystemExit(1) from None
