"""Store archives: tasks with every trial and learning curve in one compact Parquet file.

An archive is how tuning histories travel: meta-tune ships one per trainable family (so
priors exist out of the box), and ``meta-tune store export/load`` moves histories between
stores. One row per reported step (a trial that reported nothing has one row with a null
``training_iteration``); trial fields repeat on each of its rows and compress away. The
tasks (family, metric, mode, space, meta-features) ride in the file's schema metadata, with
the objectives of a task tuned for several (``objectives``: ``[[metric, mode], ...]``); that
key is left out for a task tuned for one, and an archive without it loads as one objective
per task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from meta_tune.errors import StoreError
from meta_tune.space import SearchSpace
from meta_tune.store._schema import Result, Task, Trial

if TYPE_CHECKING:
    from meta_tune.store._store import Store

logger = logging.getLogger(__name__)

_META_KEY = b"meta_tune.tasks"
_COLUMNS = [
    "task",
    "trial_id",
    "status",
    "config",
    "trial_metrics",
    "error",
    "runtime_s",
    "last_iteration",
    "training_iteration",
    "time_total_s",
    "metrics",
]


def export_archive(store: Store, path: Path, tasks: Iterable[str]) -> int:
    """Write ``tasks`` of ``store`` to the Parquet archive ``path``; returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(tasks)
    infos = [store.get_task(name) for name in names]
    rows: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    with store._session() as session:
        trials = session.execute(
            select(Task.name, Trial)
            .join(Task, Trial.task_id == Task.id)
            .where(Task.name.in_(names))
            .order_by(Task.id, Trial.id)
        ).all()
        results: dict[int, list[Result]] = {}
        for result in session.scalars(
            select(Result)
            .join(Trial, Result.trial_pk == Trial.id)
            .join(Task, Trial.task_id == Task.id)
            .where(Task.name.in_(names))
            .order_by(Result.trial_pk, Result.training_iteration)
        ):
            results.setdefault(result.trial_pk, []).append(result)
    for task_name, trial in trials:
        steps: list[Result | None] = list(results.get(trial.id, [])) or [None]
        for step in steps:
            for column, value in (
                ("task", task_name),
                ("trial_id", trial.trial_id),
                ("status", trial.status),
                ("config", trial.config),
                ("trial_metrics", trial.metrics),
                ("error", trial.error),
                ("runtime_s", trial.runtime_s),
                ("last_iteration", trial.last_iteration),
                ("training_iteration", None if step is None else step.training_iteration),
                ("time_total_s", None if step is None else step.time_total_s),
                ("metrics", None if step is None else step.metrics),
            ):
                rows[column].append(value)
    tasks_meta: list[dict[str, Any]] = [
        {
            "name": i.name,
            "family": i.family,
            "metric": i.metric,
            "mode": i.mode,
            "meta_features": i.meta_features,
            "space_json": i.space_json,
        }
        for i in infos
    ]
    for meta in tasks_meta:
        objectives = store.objectives(meta["name"])
        if len(objectives) > 1:  # only then: a one-objective task's archive reads as before
            meta["objectives"] = [list(pair) for pair in objectives]
    table = pa.table(rows).replace_schema_metadata({_META_KEY: json.dumps(tasks_meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=19)
    tmp.replace(path)  # a crash never leaves half an archive under the real name
    return table.num_rows


def import_archive(store: Store, path: Path, *, family: str | None = None) -> dict[str, int]:
    """Load an archive into ``store``; idempotent (what is already there is kept as is).

    Args:
        store: The store to load into.
        path: A file written by :func:`export_archive`.
        family: Only the archive's tasks of this family.

    Returns:
        How many tasks, trials and results were new.

    Raises:
        StoreError: ``path`` is not a meta-tune archive.
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        tasks_meta = json.loads((table.schema.metadata or {})[_META_KEY])
    except (OSError, KeyError, ValueError) as err:
        raise StoreError(
            f"{path} is not a meta-tune store archive ({err}); write one with `meta-tune store export`."
        ) from err
    frame = table.to_pandas()
    counts = {"tasks": 0, "trials": 0, "results": 0}
    for meta in tasks_meta:
        if family is not None and meta["family"] != family:
            continue
        space = None if meta["space_json"] is None else SearchSpace.from_json(meta["space_json"])
        # Counted by the insert itself: with loads running at once, each task is new to one of them.
        created, _ = store._create_task(
            meta["name"],
            metric=meta["metric"],
            mode=meta["mode"],
            family=meta["family"],
            space=space,
            meta_features=meta["meta_features"],
            exist_ok=True,
        )
        counts["tasks"] += created
        if len(meta.get("objectives") or []) > 1:  # archives of older meta-tunes have none
            store.set_objectives(meta["name"], [(str(m), str(d)) for m, d in meta["objectives"]])
        new_trials, new_results = _load_task_rows(store, meta["name"], frame[frame["task"] == meta["name"]])
        counts["trials"] += new_trials
        counts["results"] += new_results
    logger.info("Loaded %s from %s into %s", counts, path, store.url)
    return counts


def _load_task_rows(store: Store, task: str, rows: Any) -> tuple[int, int]:
    """Insert one task's trials and results in a single transaction; returns the new counts."""
    task_pk = store._task_pk(task)
    trials = rows.drop_duplicates("trial_id")

    def nullable(value: Any) -> Any:
        return None if pd.isna(value) else value

    def write() -> tuple[int, int]:
        with store._session() as session, session.begin():
            known = set(session.scalars(select(Trial.trial_id).where(Trial.task_id == task_pk)))
            fresh = trials[~trials["trial_id"].isin(known)]
            if fresh.empty:
                return 0, 0
            session.add_all(
                Trial(
                    task_id=task_pk,
                    trial_id=r.trial_id,
                    config=r.config,
                    status=r.status,
                    metrics=nullable(r.trial_metrics),
                    error=nullable(r.error),
                    runtime_s=nullable(r.runtime_s),
                    last_iteration=None if nullable(r.last_iteration) is None else int(r.last_iteration),
                )
                for r in fresh.itertuples()
            )
            session.flush()
            pks = {
                trial_id: pk
                for trial_id, pk in session.execute(
                    select(Trial.trial_id, Trial.id).where(Trial.task_id == task_pk)
                )
            }
            steps = rows[rows["trial_id"].isin(set(fresh["trial_id"])) & rows["training_iteration"].notna()]
            session.add_all(
                Result(
                    trial_pk=pks[r.trial_id],
                    training_iteration=int(r.training_iteration),
                    time_total_s=nullable(r.time_total_s),
                    metrics=r.metrics,
                )
                for r in steps.itertuples()
            )
            return len(fresh), len(steps)

    return store._retry(write)
