"""``meta-tune store check``: is a store whole, what does it hold, which schema version is it."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meta_tune.store._schema import SCHEMA_VERSION
from meta_tune.store._url import mask_url, normalize_url

logger = logging.getLogger(__name__)

#: Rows that refer to rows that do not exist: (what, SQL counting them).
_DANGLING = (
    ("trials without a task", "SELECT count(*) FROM trials WHERE task_id NOT IN (SELECT id FROM tasks)"),
    ("results without a trial", "SELECT count(*) FROM results WHERE trial_pk NOT IN (SELECT id FROM trials)"),
)


@dataclass
class StoreCheck:
    """What :func:`check_store` found.

    Attributes:
        url: The store's URL, password masked.
        ok: True when nothing is wrong.
        problems: One line per problem found (empty when ``ok``).
        schema_version: The store's schema version (None: not a meta-tune store).
        supported_version: The newest schema version this meta-tune reads.
        tasks: Number of tasks (None where it could not be counted).
        trials: Number of trials.
        results: Number of results (learning-curve steps).
        statuses: Trials per status (``TERMINATED``, ``ERROR``, ``RUNNING``, ...).
    """

    url: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    schema_version: int | None = None
    supported_version: int = SCHEMA_VERSION
    tasks: int | None = None
    trials: int | None = None
    results: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        """Record a problem (the check then fails)."""
        self.ok = False
        self.problems.append(text)


def check_store(url: str) -> StoreCheck:
    """Check a store without changing it: page integrity (SQLite), schema, counts, dangling rows.

    SQLite files get ``PRAGMA integrity_check`` through a read-only connection, so a damaged
    file is reported, not repaired or rewritten. A PostgreSQL server checks its own pages;
    there the schema, the counts and the references between tables are checked.

    Args:
        url: The store's URL or file path.

    Returns:
        What was found; ``ok`` is False when the store is damaged, is not a meta-tune store,
        or is newer than this meta-tune.
    """
    full = normalize_url(url)
    report = StoreCheck(url=mask_url(full))
    if full.startswith("sqlite:///"):
        from meta_tune.store._store import _sqlite_path

        path = _sqlite_path(full)
        if path is not None:
            _check_sqlite_file(path, report)
            return report
    _check_server(full, report)
    return report


def _check_sqlite_file(path: Path, report: StoreCheck) -> None:
    from meta_tune.store._store import SQLITE_MAGIC, _connect_ro, reason

    if not path.is_file():
        report.problem(f"There is no file {path}.")
        return
    if path.stat().st_size == 0:
        report.problem(f"{path} is empty: no meta-tune store yet.")
        return
    with path.open("rb") as file:
        if file.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            report.problem("It is not an SQLite database (its first bytes are no SQLite header).")
            return
    try:
        conn = _connect_ro(path)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
        report.problem(f"It cannot be opened as an SQLite database: {reason(err)}.")
        return
    try:
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
            report.problem(f"SQLite's integrity check failed: {reason(err)}.")
            return
        if rows != ["ok"]:
            for row in rows:
                report.problem(f"integrity_check: {row}")
        _count(lambda sql: conn.execute(sql).fetchall(), report)
    finally:
        conn.close()


def _check_server(url: str, report: StoreCheck) -> None:
    from sqlalchemy import create_engine, text

    from meta_tune.store._store import reason

    options: dict[str, Any] = {}
    if url.startswith("postgresql"):
        options["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    try:
        engine = create_engine(url, **options)
    except Exception as err:
        report.problem(f"Cannot open the store: {reason(err, url)}.")
        return
    try:
        with engine.connect() as conn:
            _count(lambda sql: [tuple(row) for row in conn.execute(text(sql))], report, url)
    except Exception as err:  # connection refused, authentication, missing database
        report.problem(f"Cannot read the store: {reason(err, url)}.")
    finally:
        engine.dispose()


def _count(run: Callable[[str], list[tuple[Any, ...]]], report: StoreCheck, url: str = "") -> None:
    """Schema version, counts, statuses and dangling rows, read through ``run(sql) -> rows``."""
    from sqlalchemy.exc import SQLAlchemyError

    from meta_tune.store._store import reason

    try:
        version = run("SELECT max(version) FROM meta_tune_schema")[0][0]
    except (sqlite3.DatabaseError, SQLAlchemyError, UnicodeDecodeError) as err:
        if "no such table" in str(err) or "does not exist" in str(err):
            report.problem("It is not a meta-tune store (there is no meta_tune_schema table).")
            return
        report.problem(f"Reading the store failed: {reason(err, url)}.")
        return
    report.schema_version = None if version is None else int(version)
    if version is None:
        report.problem("The meta_tune_schema table has no version row.")
    elif version > SCHEMA_VERSION:
        report.problem(
            f"Schema version {version} is newer than this meta-tune's {SCHEMA_VERSION}: upgrade meta-tune."
        )
    try:
        report.tasks = int(run("SELECT count(*) FROM tasks")[0][0])
        report.trials = int(run("SELECT count(*) FROM trials")[0][0])
        report.results = int(run("SELECT count(*) FROM results")[0][0])
        by_status = run("SELECT status, count(*) FROM trials GROUP BY status ORDER BY status")
        report.statuses = {str(status): int(n) for status, n in by_status}
        for what, sql in _DANGLING:
            n = int(run(sql)[0][0])
            if n:
                report.problem(f"{n} {what}.")
    except (sqlite3.DatabaseError, SQLAlchemyError, UnicodeDecodeError) as err:
        report.problem(f"Reading the store failed: {reason(err, url)}.")
