"""``meta-tune submit``: run an experiment file on a Ray cluster as a Ray job.

The job's driver runs ``meta-tune run <experiment file> --address auto`` on the cluster's
head node, in a copy of the working directory (the experiment file's folder unless
``--working-dir`` says otherwise) that Ray uploads with the job; ``--requirements`` adds
packages the trials need on top of what the cluster has installed.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from meta_tune.errors import InvalidConfigError

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

logger = logging.getLogger(__name__)

#: Uploaded with nothing else: version control, virtual environments and caches.
WORKING_DIR_EXCLUDES = (".git", ".venv", "venv", "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
#: The dashboard port Ray Jobs listens on (``ray start --head`` prints it).
DASHBOARD_PORT = 8265


@dataclass(frozen=True)
class JobRequest:
    """What is sent to Ray Jobs: the driver's command line and its runtime environment.

    Attributes:
        entrypoint: The shell command the job runs on the head node, in the working directory.
        runtime_env: Ray's runtime environment (``working_dir``, ``excludes``, ``pip``, ``env_vars``).
        submission_id: The job id, readable: ``meta-tune-<experiment>-<8 hex digits>``.
        metadata: Shown by ``ray job list`` and the dashboard.
    """

    entrypoint: str
    runtime_env: dict[str, Any] = field(default_factory=dict)
    submission_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def dashboard_address(address: str) -> str:
    """The Ray Jobs address as ``http(s)://HOST:PORT``; a bare ``HOST:PORT`` gets ``http://``.

    Raises:
        InvalidConfigError: The address is a Ray Client (``ray://``) or GCS address, not the
            dashboard's.
    """
    address = address.strip().rstrip("/")
    if address.startswith(("http://", "https://")):
        return address
    if "://" in address or address == "auto" or address.endswith(":6379") or address.endswith(":10001"):
        raise InvalidConfigError(
            f"--address {address!r} is not a Ray dashboard address: meta-tune submit talks to Ray Jobs "
            f"on the head's dashboard, e.g. --address http://HEAD:{DASHBOARD_PORT} (ray:// and auto are "
            "for meta-tune run --address)."
        )
    return f"http://{address}"


def job_request(
    experiment_file: Path,
    *,
    working_dir: Path | None = None,
    requirements: Path | None = None,
    store_url: str | None = None,
    run_args: Sequence[str] = (),
) -> JobRequest:
    """The job that runs ``experiment_file`` with ``meta-tune run`` on the cluster.

    Args:
        experiment_file: The experiment file; it must lie inside ``working_dir``.
        working_dir: The folder uploaded with the job, the driver's current directory
            there (default: the experiment file's folder).
        requirements: A pip requirements file installed for the job on every node that
            runs part of it (Ray's ``pip`` runtime environment, on top of the cluster's
            packages).
        store_url: The store the job records into, passed as ``MT_STORE`` (kept out of the
            command line, which ``ray job list`` shows); None leaves the cluster's own
            ``MT_STORE``.
        run_args: More ``meta-tune run`` flags (they override the file's settings).

    Raises:
        InvalidConfigError: The experiment file is not inside the working directory.
    """
    experiment_file = experiment_file.expanduser().resolve()
    folder = (working_dir or experiment_file.parent).expanduser().resolve()
    try:
        relative = experiment_file.relative_to(folder)
    except ValueError:
        raise InvalidConfigError(
            f"The experiment file {experiment_file} is not inside the working directory {folder}: "
            "only the working directory is uploaded with the job. Pass a --working-dir that holds it."
        ) from None
    entrypoint = shlex.join(["meta-tune", "run", relative.as_posix(), *run_args, "--address", "auto"])
    runtime_env: dict[str, Any] = {"working_dir": str(folder), "excludes": list(WORKING_DIR_EXCLUDES)}
    if requirements is not None:
        runtime_env["pip"] = str(requirements.expanduser().resolve())
    if store_url:
        runtime_env["env_vars"] = {"MT_STORE": store_url}
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in experiment_file.stem)[:40]
    return JobRequest(
        entrypoint=entrypoint,
        runtime_env=runtime_env,
        submission_id=f"meta-tune-{name}-{uuid.uuid4().hex[:8]}",
        metadata={"meta_tune_experiment": relative.as_posix()},
    )


def connect(address: str) -> JobSubmissionClient:
    """A Ray Jobs client for the dashboard at ``address`` (checked: the cluster answers).

    Raises:
        InvalidConfigError: Nothing answers at ``address``, or it is no Ray dashboard.
    """
    from ray.job_submission import JobSubmissionClient

    url = dashboard_address(address)
    try:
        return JobSubmissionClient(url)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise InvalidConfigError(
            f"Cannot reach Ray Jobs at {url} ({str(err).rstrip('.')}). Is the cluster up with its dashboard "
            f"(ray up cluster.yaml; on a laptop, forward the port with `ray dashboard cluster.yaml` "
            f"and use --address http://127.0.0.1:{DASHBOARD_PORT})?"
        ) from err


def submit_job(client: JobSubmissionClient, request: JobRequest) -> str:
    """Submit ``request``; returns the job id."""
    job_id: str = client.submit_job(
        entrypoint=request.entrypoint,
        runtime_env=request.runtime_env,
        submission_id=request.submission_id,
        metadata=request.metadata,
    )
    logger.info("Submitted job %s: %s", job_id, request.entrypoint)
    return job_id


def follow_job(client: JobSubmissionClient, job_id: str, *, poll_s: float = 1.0) -> str:
    """Print the job's logs as they come until it ends; returns its final status.

    Raises:
        MissingDependencyError: aiohttp (``ray[default]``) is not installed.
    """
    from meta_tune._imports import require

    require("aiohttp", extra="cluster")

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            click.echo(chunk, nl=False)

    asyncio.run(tail())
    while not (status := client.get_job_status(job_id)).is_terminal():  # the log closes first
        time.sleep(poll_s)
    return str(status.value)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("experiment_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--address",
    envvar="RAY_API_SERVER_ADDRESS",
    required=True,
    metavar="URL",
    help=f"The cluster's Ray dashboard, e.g. http://HEAD:{DASHBOARD_PORT} [env RAY_API_SERVER_ADDRESS].",
)
@click.option(
    "--working-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder uploaded with the job and the driver's current directory there; must hold the "
    "experiment file [default: the experiment file's folder].",
)
@click.option(
    "--requirements",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A pip requirements file installed for the job on top of the cluster's packages.",
)
@click.option(
    "--follow/--no-follow",
    default=False,
    show_default=True,
    help="Print the job's logs until it ends and exit with its status (0: SUCCEEDED).",
)
@click.pass_context
def submit(
    ctx: click.Context,
    experiment_file: Path,
    run_args: tuple[str, ...],
    address: str,
    working_dir: Path | None,
    requirements: Path | None,
    follow: bool,
) -> None:
    """Run EXPERIMENT_FILE on a Ray cluster as a Ray job: `meta-tune run EXPERIMENT_FILE` on its head.

    The experiment file's folder (or --working-dir) is uploaded with the job. RUN_ARGS after
    `--` are more `meta-tune run` flags, e.g. `-- --samples 50`. The global --store is
    passed to the job as MT_STORE; without it the job records into the cluster's MT_STORE.
    """
    from meta_tune.store._url import mask_url
    from meta_tune.tuning import load_experiment

    # The file is checked here, before anything is sent; its function is imported on the cluster.
    load_experiment(experiment_file, import_function=False)
    parent = ctx.parent
    from_command_line = parent is not None and (
        parent.get_parameter_source("store_url") == click.core.ParameterSource.COMMANDLINE
    )
    store_url = ctx.obj["store_url"] if from_command_line else None
    request = job_request(
        experiment_file, working_dir=working_dir, requirements=requirements, store_url=store_url,
        run_args=run_args,
    )
    client = connect(address)
    url = dashboard_address(address)
    job_id = submit_job(client, request)
    click.echo(f"Submitted job {job_id} to {url}: {request.entrypoint}")
    click.echo(f"  working directory: {request.runtime_env['working_dir']}")
    if store_url:
        click.echo(f"  store: {mask_url(store_url)}")
        if store_url.startswith("sqlite"):
            click.echo("  (a SQLite store is a file on the head node; PostgreSQL can be read from anywhere)")
    else:
        click.echo("  store: the cluster's MT_STORE (pass --store URL before `submit` to choose one)")
    click.echo(f"Follow its logs: ray job logs --address {url} --follow {job_id}")
    click.echo(f"Its status:      ray job status --address {url} {job_id}")
    click.echo(f"Stop it:         ray job stop --address {url} {job_id}")
    if not follow:
        return
    try:
        status = follow_job(client, job_id)
    except KeyboardInterrupt:
        click.echo(f"\nStopped following; job {job_id} keeps running (stop it as above).", err=True)
        raise SystemExit(130) from None
    click.echo(f"Job {job_id} ended: {status}")
    if status != "SUCCEEDED":
        raise SystemExit(1)
