"""The experiment store: every trial and learning curve of every tuning run, in a database."""

from __future__ import annotations

import difflib
import functools
import json
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote

import numpy as np
from sqlalchemy import Engine, create_engine, delete, event, func, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, StaticPool

from meta_tune.errors import InvalidConfigError, MetaTuneError, StoreError, StoreSchemaError
from meta_tune.space import SearchSpace, grid_axes, without_grid
from meta_tune.store._schema import (
    SCHEMA_VERSION,
    TABLES,
    Base,
    Result,
    SchemaVersion,
    Task,
    TaskObjective,
    Trial,
    TrialRun,
)
from meta_tune.store._url import (
    STORE_ENV,
    default_store_path,
    default_store_url,
    mask_url,
    normalize_url,
    scrub,
)

if TYPE_CHECKING:
    import pandas as pd

    from meta_tune.store._check import StoreCheck

__all__ = ["STORE_ENV", "Store", "TaskInfo", "default_store_url", "dumps", "mask_url", "normalize_url"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_P = ParamSpec("_P")
_RETRIES = 12
#: SQLite's words for a file that is not (or no longer) a database.
_DAMAGED = ("not a database", "malformed", "corrupt", "disk i/o error")
_INIT_HINT = "run `meta-tune --store URL store init` (or pass create=True to Store)"


def dumps(value: Any) -> str:
    """JSON text of a config or metrics dict; NaN and +-inf round-trip (as NaN/Infinity)."""
    return json.dumps(value, default=_json_default, allow_nan=True, sort_keys=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (Path, datetime)):
        return str(value)
    return repr(value)


def reason(err: BaseException, url: str = "") -> str:
    """One line saying why a database call failed: the driver's message, secrets masked."""
    orig = getattr(err, "orig", None) or err
    text = " ".join(line.strip() for line in str(orig).splitlines() if line.strip()) or type(orig).__name__
    return scrub(text, url)


def _guarded(
    what: str,
) -> Callable[[Callable[Concatenate[Store, _P], _T]], Callable[Concatenate[Store, _P], _T]]:
    """Turn database errors of a Store method into one-line ``StoreError``s naming ``what`` failed."""

    def decorate(method: Callable[Concatenate[Store, _P], _T]) -> Callable[Concatenate[Store, _P], _T]:
        @functools.wraps(method)
        def wrapper(self: Store, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return method(self, *args, **kwargs)
            except SQLAlchemyError as err:
                raise self._error(what, err) from err
            except MetaTuneError:
                raise
            except (ValueError, TypeError, KeyError) as err:
                # meta-tune writes only values that parse back (JSON, dates): a row that does not
                # parse was damaged, whether or not SQLite's page check notices.
                if what != "read":
                    raise
                if not self.check().ok:
                    damage = sqlite3.DatabaseError(f"database disk image is malformed: {err}")
                    raise self._error(what, damage) from err
                raise StoreError(
                    f"The store {self.url} could not be read: a stored value does not parse "
                    f"({type(err).__name__}: {reason(err, self._url)}); its file may be damaged. Check it "
                    "with `meta-tune --store URL store check`; restore it from a backup."
                ) from err

        return wrapper

    return decorate


@dataclass(frozen=True)
class TaskInfo:
    """A task as stored.

    Attributes:
        name: Unique task name.
        family: The family of related tasks it belongs to (what priors learn across).
        metric: The metric tuned (None if not recorded).
        mode: ``"min"`` or ``"max"`` (None if not recorded).
        meta_features: Numeric descriptors of the task (dataset size, ...).
        space_json: The search space (``SearchSpace.to_json``), if recorded.
        space_fingerprint: Its fingerprint.
        created_at: When the task was created (UTC).
    """

    name: str
    family: str | None
    metric: str | None
    mode: str | None
    meta_features: dict[str, Any]
    space_json: str | None
    space_fingerprint: str | None
    created_at: datetime

    @property
    def space(self) -> SearchSpace | None:
        """The stored search space, or None."""
        return None if self.space_json is None else SearchSpace.from_json(self.space_json)


class Store:
    """Tasks, trials and learning curves of past tuning runs, in SQLite or PostgreSQL.

    SQLite (the default, ``~/.meta_tune/store.db``) runs in WAL mode with a busy timeout and
    immediate write transactions, retried on lock contention, so several processes can
    write at once; PostgreSQL (``postgresql+psycopg://user@host/db``, extra ``postgres``)
    serves a cluster. Every write is one transaction: a crash never leaves half a trial.

    A new or empty database gets meta-tune's tables on first open. A database that holds
    other tables (another application's) is never changed: opening it raises
    :class:`~meta_tune.errors.StoreSchemaError` unless ``create=True`` asks to add the
    tables. A store that cannot be written (a read-only file or folder), or one opened with
    ``read_only=True``, is read without any change to it; writing to it raises
    :class:`~meta_tune.errors.StoreError`. Every URL the store prints, logs or puts in an
    error has its password masked (:attr:`url`).

    Args:
        url: A SQLAlchemy URL or a file path; None reads ``$MT_STORE``, then the default.
        create: None (default): add meta-tune's tables to a database without any table.
            True: also to a database that holds other tables. False: never (a database
            without meta-tune's tables is an error).
        read_only: Open for reading only: SQLite in ``mode=ro``, PostgreSQL in read-only
            transactions, nothing created. A store that does not exist yet reads as empty.

    Raises:
        StoreError: The database cannot be opened or is damaged; the message says which
            URL (password masked) and why, in one line.
        StoreSchemaError: The store was written by a newer meta-tune, or the database is
            not a meta-tune store and ``create`` is not True.

    Example:
        >>> store = Store("sqlite:///runs.db")
        >>> store.create_task("mlp/digits", metric="acc", mode="max", family="mlp")
        >>> store.record_result("mlp/digits", "t1", training_iteration=1, metrics={"acc": 0.9},
        ...                     config={"lr": 0.1})
        >>> store.curves("mlp/digits")
    """

    def __init__(
        self, url: str | None = None, *, create: bool | None = None, read_only: bool = False
    ) -> None:
        if read_only and create:
            raise InvalidConfigError(
                "Store(create=True, read_only=True) conflict: a read-only store creates nothing. "
                "Drop read_only to initialise the store, or create to only read it."
            )
        self._url = normalize_url(url or default_store_url())
        self._create = create
        self.read_only = read_only
        self._engine: Engine | None = None
        self._writable = False
        self._wal = False
        self._why_read_only = "it was opened with read_only=True"
        self.schema_version: int | None = None
        self._open()

    @property
    def url(self) -> str:
        """The store's URL with its password masked: safe to print and log."""
        return mask_url(self._url)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"`` (the database the URL names)."""
        return self._url.split(":", 1)[0].split("+", 1)[0]

    @property
    def writable(self) -> bool:
        """Whether writes are possible (False for read-only stores and files)."""
        return self._writable

    # ------------------------------------------------------------------ connection
    def _open(self) -> None:
        try:
            if self.dialect == "sqlite" and _sqlite_path(self._url) is not None:
                self._open_sqlite_file(_sqlite_path(self._url))  # type: ignore[arg-type]
            else:
                self._open_server()
        except (StoreError, InvalidConfigError):
            self.close()
            raise
        except SQLAlchemyError as err:
            self.close()
            raise self._error("opened", err) from err
        except Exception as err:
            self.close()
            raise StoreError(
                f"Cannot open the store {self.url}: {reason(err, self._url)}. Use sqlite:///path.db or "
                "postgresql+psycopg://user:password@host/db (pip install 'meta-tune[postgres]')."
            ) from err

    def _open_sqlite_file(self, path: Path) -> None:
        _check_folder(path, self.url)
        exists = path.is_file() and path.stat().st_size > 0
        if path.exists() and not path.is_file():
            raise StoreError(f"Cannot open the store {self.url}: {path} is not a file.")
        tables, version = _inspect_sqlite(path, self.url) if exists else (set(), None)
        self._check_tables(tables, version)
        dir_ok = os.access(path.parent if path.parent.exists() else _existing_parent(path), os.W_OK)
        file_ok = not path.exists() or os.access(path, os.W_OK)
        if not self.read_only and not (dir_ok and file_ok):
            self._why_read_only = f"the {'folder' if file_ok else 'file'} is not writable"
            if not exists:
                raise StoreError(
                    f"Cannot create the store {self.url}: {self._why_read_only}. "
                    "Point --store/$MT_STORE at a writable place."
                )
            logger.info("The store %s is read-only (%s): opened for reading", self.url, self._why_read_only)
        if self.read_only or not (dir_ok and file_ok):
            if not exists or not tables:
                self._open_empty()
                return
            self._engine = _readonly_sqlite_engine(path, self.url)
            self.schema_version = version
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self._url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine)
        self._engine, self._writable = engine, True
        if not set(TABLES) <= tables or version is None:
            if exists:
                _quick_check(path, self.url)  # never add tables to a damaged file
            self._check_writable("create meta-tune's tables")
            self._retry(self._init_schema)
        self.schema_version = version or SCHEMA_VERSION

    def _open_server(self) -> None:
        options: dict[str, Any] = {}
        if self.dialect == "sqlite":  # in memory
            options["poolclass"] = StaticPool
            options["connect_args"] = {"check_same_thread": False}
        else:
            options["pool_pre_ping"] = True
            if self.read_only and self.dialect == "postgresql":
                options["connect_args"] = {"options": "-c default_transaction_read_only=on"}
        try:
            engine = create_engine(self._url, **options)
        except Exception as err:
            raise StoreError(
                f"Cannot open the store {self.url}: {reason(err, self._url)}. Use sqlite:///path.db or "
                "postgresql+psycopg://user:password@host/db (pip install 'meta-tune[postgres]')."
            ) from err
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        self._engine = engine
        tables = set(inspect(engine).get_table_names())
        version = None
        if "meta_tune_schema" in tables:
            with Session(engine) as session:
                version = session.scalar(select(func.max(SchemaVersion.version)))
        self._check_tables(tables, version)
        if self.read_only:
            if not tables:
                engine.dispose()
                self._open_empty()
            else:
                self.schema_version = version
            return
        self._writable = True
        if not set(TABLES) <= tables or version is None:
            self._retry(self._init_schema)
        self.schema_version = version or SCHEMA_VERSION

    def _check_tables(self, tables: set[str], version: int | None) -> None:
        """Refuse a store of a newer meta-tune, and another application's database unless asked."""
        if version is not None and version > SCHEMA_VERSION:
            raise StoreSchemaError(
                f"The store {self.url} has schema version {version}, newer than this meta-tune's "
                f"{SCHEMA_VERSION}. Upgrade meta-tune (pip install -U meta-tune) to open it."
            )
        if "meta_tune_schema" in tables:
            return
        clashes = sorted(tables & set(TABLES))
        if clashes:
            raise StoreSchemaError(
                f"The database {self.url} is not a meta-tune store, yet it holds tables with the names "
                f"meta-tune uses ({', '.join(clashes)}). It was left unchanged; use another database."
            )
        if tables and not self._create:
            shown = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
            raise StoreSchemaError(
                f"The database {self.url} is not a meta-tune store: it holds other tables ({shown}) "
                f"and none of meta-tune's. It was left unchanged. Point --store/$MT_STORE at another "
                f"database, or, to add meta-tune's tables to this one, {_INIT_HINT}."
            )
        if self._create is False:
            raise StoreSchemaError(
                f"The database {self.url} holds no meta-tune store and create=False. To make one, "
                f"{_INIT_HINT}."
            )

    def _open_empty(self) -> None:
        """A read-only view of a store that does not exist yet: empty, in memory."""
        logger.info("No meta-tune store at %s yet: reading it as empty", self.url)
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            session.add(SchemaVersion(version=SCHEMA_VERSION))
        self._engine, self.schema_version = engine, None

    def _init_schema(self) -> None:
        assert self._engine is not None
        try:
            Base.metadata.create_all(self._engine)
        except (IntegrityError, DBAPIError) as err:  # another process created the tables first
            if "already exists" not in str(err) and "duplicate" not in str(err).lower():
                raise
        with Session(self._engine) as session, session.begin():
            version = session.scalar(select(func.max(SchemaVersion.version)))
            if version is None:
                session.add(SchemaVersion(version=SCHEMA_VERSION))
            elif version > SCHEMA_VERSION:
                raise StoreSchemaError(
                    f"The store {self.url} has schema version {version}, newer than this meta-tune's "
                    f"{SCHEMA_VERSION}. Upgrade meta-tune (pip install -U meta-tune) to open it."
                )

    def _error(self, what: str, err: BaseException) -> StoreError:
        """A one-line StoreError for a failed database call: which store, what, why, what to do."""
        why = reason(err, self._url)
        lowered = why.lower()
        if any(word in lowered for word in _DAMAGED):
            return StoreError(
                f"The store {self.url} is damaged and could not be {what} ({why}). Check it with "
                f"`meta-tune --store URL store check`; restore it from a backup, or copy what still "
                "reads with `meta-tune store export`."
            )
        if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
            return StoreError(
                f"The store {self.url} is read-only and could not be {what} ({why}). Use a writable "
                "store for tuning runs and loads."
            )
        return StoreError(f"The store {self.url} could not be {what}: {why}")

    def _check_writable(self, what: str) -> None:
        if not self._writable:
            raise StoreError(
                f"Cannot {what}: the store {self.url} is read-only ({self._why_read_only}). "
                "Use a writable store (--store/$MT_STORE) for tuning runs and loads."
            )
        if not self._wal and self._engine is not None and self._engine.dialect.name == "sqlite":
            self._retry(lambda: _use_wal(self._engine))  # type: ignore[arg-type]
            self._wal = True

    def close(self) -> None:
        """Release the database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __str__(self) -> str:
        return self.url

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self._url, "create": self._create, "read_only": self.read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], create=state.get("create"), read_only=state.get("read_only", False))  # type: ignore[misc]

    def _retry(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` (one transaction), retrying with backoff when the database is busy."""
        for attempt in range(_RETRIES):
            try:
                return fn()
            except OperationalError as err:
                transient = any(s in str(err).lower() for s in ("locked", "busy", "deadlock", "serialize"))
                if not transient or attempt == _RETRIES - 1:
                    raise
            except IntegrityError:
                if attempt == _RETRIES - 1:
                    raise
            time.sleep(min(1.0, 0.01 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _session(self) -> Session:
        if self._engine is None:
            self._open()
        assert self._engine is not None
        return Session(self._engine, expire_on_commit=False)

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_*`` (SQLite and PostgreSQL alike)."""
        from sqlalchemy.dialects import postgresql, sqlite

        assert self._engine is not None
        return (postgresql if self._engine.dialect.name == "postgresql" else sqlite).insert(table)

    # ------------------------------------------------------------------ tasks
    def create_task(
        self,
        name: str,
        *,
        metric: str | None = None,
        mode: str | None = None,
        family: str | None = None,
        space: Mapping[str, Any] | SearchSpace | None = None,
        meta_features: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> TaskInfo:
        """Create a task (or, with ``exist_ok``, return the existing one if it agrees).

        Raises:
            InvalidConfigError: Bad mode or name, or (``exist_ok``) an existing task with
                another metric, mode or space; the message names the difference.
            StoreError: The task exists and ``exist_ok`` is False.
        """
        return self._create_task(
            name,
            metric=metric,
            mode=mode,
            family=family,
            space=space,
            meta_features=meta_features,
            exist_ok=exist_ok,
        )[1]

    @_guarded("written")
    def _create_task(
        self,
        name: str,
        *,
        metric: str | None = None,
        mode: str | None = None,
        family: str | None = None,
        space: Mapping[str, Any] | SearchSpace | None = None,
        meta_features: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> tuple[bool, TaskInfo]:
        """:meth:`create_task`, also saying whether this call created the task (not another process)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidConfigError(f"A task name must be a non-empty string, got {name!r}")
        if mode not in (None, "min", "max"):
            raise InvalidConfigError(f"mode must be 'min' or 'max', got {mode!r}")
        searchspace = (  # a grid_search axis is recorded as the choice of values it may take
            space
            if isinstance(space, SearchSpace) or space is None
            else SearchSpace.from_tune(without_grid(space, grid_axes(space)))
        )
        values = {
            "name": name,
            "family": family,
            "metric": metric,
            "mode": mode,
            "meta_features": dumps(dict(meta_features or {})),
            "space_json": None if searchspace is None else searchspace.to_json(),
            "space_fingerprint": None if searchspace is None else searchspace.fingerprint,
        }

        def write() -> tuple[bool, TaskInfo]:
            with self._session() as session, session.begin():
                inserted = (
                    session.execute(
                        self._insert(Task)
                        .values(**values)
                        .on_conflict_do_nothing(index_elements=["name"])
                        .returning(Task.id)
                    ).first()
                    is not None
                )
                row = session.scalars(select(Task).where(Task.name == name)).one()
                if not inserted and exist_ok:
                    _check_same_task(row, values)
                    for key in ("metric", "mode", "family", "space_json", "space_fingerprint"):
                        if getattr(row, key) is None and values[key] is not None:
                            setattr(row, key, values[key])
                return bool(inserted), _info(row)

        self._check_writable(f"create the task {name!r}")
        inserted, info = self._retry(write)
        if not inserted and not exist_ok:
            raise StoreError(
                f"Task {name!r} already exists in {self.url}. Pass exist_ok=True to add to it, "
                "or delete it first (Store.delete_task)."
            )
        return inserted, info

    @_guarded("read")
    def get_task(self, name: str) -> TaskInfo:
        """The task called ``name``.

        Raises:
            StoreError: No such task; the message lists similar names.
        """
        with self._session() as session:
            row = session.scalars(select(Task).where(Task.name == name)).one_or_none()
            if row is None:
                names = list(session.scalars(select(Task.name)))
                close = difflib.get_close_matches(name, names, n=3)
                hint = f" Did you mean {close}?" if close else ""
                raise StoreError(
                    f"No task {name!r} in {self.url}.{hint} List the tasks with `meta-tune store ls`."
                )
            return _info(row)

    @_guarded("read")
    def list_tasks(self, family: str | None = None) -> list[TaskInfo]:
        """All tasks (of ``family``), oldest first."""
        query = select(Task).order_by(Task.id)
        if family is not None:
            query = query.where(Task.family == family)
        with self._session() as session:
            return [_info(row) for row in session.scalars(query)]

    @_guarded("written")
    def delete_task(self, name: str) -> None:
        """Delete a task with its trials and results."""
        self._check_writable(f"delete the task {name!r}")
        task_pk = self._task_pk(name)

        def write() -> None:
            with self._session() as session, session.begin():
                trial_pks = select(Trial.id).where(Trial.task_id == task_pk)
                session.execute(delete(Result).where(Result.trial_pk.in_(trial_pks)))
                session.execute(delete(TrialRun).where(TrialRun.trial_pk.in_(trial_pks)))
                session.execute(delete(Trial).where(Trial.task_id == task_pk))
                if "task_objectives" in inspect(session.connection()).get_table_names():
                    session.execute(delete(TaskObjective).where(TaskObjective.task_pk == task_pk))
                session.execute(delete(Task).where(Task.id == task_pk))

        self._retry(write)

    @_guarded("written")
    def set_objectives(self, name: str, objectives: Sequence[tuple[str, str]]) -> None:
        """Record that task ``name`` was tuned for several objectives, ``[(metric, mode), ...]``.

        The task's ``metric`` and ``mode`` are the first objective's (set them with
        :meth:`create_task`); a task tuned for one keeps no list. A task recorded earlier
        with other objectives keeps them.

        Raises:
            InvalidConfigError: Fewer than two objectives, a mode other than min or max, or
                objectives whose first is not the task's metric and mode.
            StoreError: No such task.
        """
        pairs = [(str(metric), str(mode)) for metric, mode in objectives]
        if len(pairs) < 2 or any(mode not in ("min", "max") for _, mode in pairs):
            raise InvalidConfigError(
                f"set_objectives takes two or more (metric, mode) pairs with modes min or max, got {pairs}."
            )
        info = self.get_task(name)
        if (info.metric, info.mode) != pairs[0] and info.metric is not None:
            raise InvalidConfigError(
                f"Task {name!r} is recorded with metric {info.metric!r} ({info.mode}), but the first "
                f"objective given is {pairs[0][0]!r} ({pairs[0][1]}): the first objective is the task's "
                "metric."
            )
        self._check_writable(f"record the objectives of task {name!r}")
        task_pk = self._task_pk(name)

        def write() -> None:
            with self._session() as session, session.begin():
                session.execute(
                    self._insert(TaskObjective)
                    .values(task_pk=task_pk, objectives=dumps([list(p) for p in pairs]))
                    .on_conflict_do_nothing(index_elements=["task_pk"])
                )

        self._retry(write)

    @_guarded("read")
    def objectives(self, name: str) -> list[tuple[str, str]]:
        """The ``(metric, mode)`` pairs task ``name`` was tuned for: several, or its one metric.

        Empty when the task recorded no metric and mode.

        Raises:
            StoreError: No such task.
        """
        info = self.get_task(name)
        with self._session() as session:
            if "task_objectives" not in inspect(session.connection()).get_table_names():
                stored = None  # a store of an older meta-tune, opened read-only
            else:
                stored = session.scalar(
                    select(TaskObjective.objectives).join(Task, Task.id == TaskObjective.task_pk).where(
                        Task.name == name
                    )
                )
        if stored:
            return [(str(metric), str(mode)) for metric, mode in json.loads(stored)]
        if info.metric is None or info.mode is None:
            return []
        return [(info.metric, info.mode)]

    def _task_pk(self, name: str) -> int:
        with self._session() as session:
            pk = session.scalar(select(Task.id).where(Task.name == name))
        if pk is None:
            self.get_task(name)  # raises the helpful error
        assert pk is not None
        return pk

    @staticmethod
    def _task_pk_in(session: Session, name: str) -> int | None:
        """The task's key, read in the write's own transaction (no second connection or lock)."""
        return session.scalar(select(Task.id).where(Task.name == name))

    def _write_to_task(self, task: str, write: Callable[[], bool]) -> None:
        """Run ``write`` (False: no such task), raising the helpful error once it has ended.

        The missing task is reported outside the write transaction: a second connection
        inside it would wait for SQLite's write lock, which the transaction holds.
        """
        for _ in range(3):
            if self._retry(write):
                return
            self.get_task(task)  # raises the helpful error, unless another process just created it
        raise StoreError(f"Task {task!r} in {self.url} was deleted while trials were written to it.")

    # ------------------------------------------------------------------ trials and results
    @_guarded("written")
    def record_trial(
        self,
        task: str,
        trial_id: str,
        *,
        config: Mapping[str, Any],
        status: str,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
        runtime_s: float | None = None,
        last_iteration: int | None = None,
        run_id: str | None = None,
    ) -> None:
        """Create or update a trial; fields given as None keep their stored value.

        A finished trial (TERMINATED or ERROR with ``last_iteration``) keeps no learning-curve
        steps past ``last_iteration`` (steps an earlier attempt of a resumed trial reported).
        ``run_id`` names the Tune run that recorded it (what :class:`StoreCallback` uses to
        find a resumed run's rows).
        """
        _check_trial_id(trial_id)
        if not isinstance(status, str) or not 0 < len(status) <= 32 or not _storable(status):
            raise InvalidConfigError(
                "A trial status must be a string of 1 to 32 characters (UTF-8, no NUL), e.g. TERMINATED "
                f"or ERROR, got {status!r}."
            )
        self._check_writable(f"record trial {trial_id!r}")
        values: dict[str, Any] = {
            "trial_id": str(trial_id),
            "config": dumps(dict(config)),
            "status": status,
        }
        optional = {
            "metrics": None if metrics is None else dumps(dict(metrics)),
            "error": error,
            "runtime_s": None if runtime_s is None else float(runtime_s),
            "last_iteration": None if last_iteration is None else int(last_iteration),
        }
        values.update({k: v for k, v in optional.items() if v is not None})

        def write() -> bool:
            with self._session() as session, session.begin():
                task_pk = self._task_pk_in(session, task)
                if task_pk is None:
                    return False
                session.execute(
                    self._insert(Trial)
                    .values(task_id=task_pk, **values)
                    .on_conflict_do_update(
                        index_elements=["task_id", "trial_id"],
                        set_={k: v for k, v in values.items() if k != "trial_id"},
                    )
                )
                if run_id is not None:
                    self._link_run(session, task_pk, str(trial_id), run_id)
                if status in ("TERMINATED", "ERROR") and last_iteration is not None:
                    # Steps past the end are left from an earlier attempt of a resumed trial.
                    trial_pk = select(Trial.id).where(
                        Trial.task_id == task_pk, Trial.trial_id == str(trial_id)
                    )
                    session.execute(
                        delete(Result).where(
                            Result.trial_pk.in_(trial_pk), Result.training_iteration > int(last_iteration)
                        )
                    )
            return True

        self._write_to_task(task, write)

    def _link_run(
        self, session: Session, task_pk: int, trial_id: str, run_id: str, trial_pk: int | None = None
    ) -> None:
        if trial_pk is None:
            trial_pk = session.scalar(
                select(Trial.id).where(Trial.task_id == task_pk, Trial.trial_id == trial_id)
            )
        session.execute(
            self._insert(TrialRun)
            .values(trial_pk=trial_pk, run_id=run_id)
            .on_conflict_do_nothing(index_elements=["trial_pk"])
        )

    @_guarded("written")
    def record_result(
        self,
        task: str,
        trial_id: str,
        *,
        training_iteration: int,
        metrics: Mapping[str, Any],
        time_total_s: float | None = None,
        config: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Record one step of a trial's learning curve (idempotent per trial and iteration).

        Creates the trial (status RUNNING, with ``config`` if given) if it does not exist yet.
        A step recorded again (a trial that a resumed run trains again) replaces the earlier
        one. ``run_id`` as for :meth:`record_trial`.
        """
        _check_trial_id(trial_id)
        self._check_writable(f"record a result of trial {trial_id!r}")
        step = int(training_iteration)

        def write() -> bool:
            with self._session() as session, session.begin():
                task_pk = self._task_pk_in(session, task)
                if task_pk is None:
                    return False
                session.execute(
                    self._insert(Trial)
                    .values(
                        task_id=task_pk,
                        trial_id=str(trial_id),
                        config=dumps(dict(config or {})),
                        status="RUNNING",
                        last_iteration=step,
                    )
                    .on_conflict_do_nothing(index_elements=["task_id", "trial_id"])
                )
                trial_pk = session.scalar(
                    select(Trial.id).where(Trial.task_id == task_pk, Trial.trial_id == str(trial_id))
                )
                step_values = {
                    "metrics": dumps(dict(metrics)),
                    "time_total_s": None if time_total_s is None else float(time_total_s),
                }
                session.execute(
                    self._insert(Result)
                    .values(trial_pk=trial_pk, training_iteration=step, **step_values)
                    .on_conflict_do_update(
                        index_elements=["trial_pk", "training_iteration"], set_=step_values
                    )
                )
                if run_id is not None:
                    self._link_run(session, task_pk, str(trial_id), run_id, trial_pk)
                updates: dict[str, Any] = {"last_iteration": step}
                if config:
                    updates["config"] = dumps(dict(config))
                session.execute(
                    update(Trial)
                    .where(Trial.id == trial_pk)
                    .where((Trial.last_iteration.is_(None)) | (Trial.last_iteration <= step))
                    .values(**updates)
                )
            return True

        self._write_to_task(task, write)

    # ------------------------------------------------------------------ reading
    @_guarded("read")
    def _rows(self, tasks: Iterable[str]) -> tuple[Sequence[Any], Sequence[Any]]:
        names = list(tasks)
        with self._session() as session:
            trials = session.execute(
                select(Task.name, Trial)
                .join(Task, Trial.task_id == Task.id)
                .where(Task.name.in_(names))
                .order_by(Task.id, Trial.id)
            ).all()
            results = session.execute(
                select(Task.name, Trial.trial_id, Trial.config, Result)
                .join(Trial, Result.trial_pk == Trial.id)
                .join(Task, Trial.task_id == Task.id)
                .where(Task.name.in_(names))
                .order_by(Task.id, Trial.id, Result.training_iteration)
            ).all()
        return trials, results

    @_guarded("read")
    def trials(self, task: str) -> pd.DataFrame:
        """One row per trial of ``task`` (see :mod:`meta_tune.store` for the columns)."""
        from meta_tune.store._frames import trials_frame

        info = self.get_task(task)
        return trials_frame(self._rows([task])[0], {task: info.space})

    @_guarded("read")
    def curves(self, task: str) -> pd.DataFrame:
        """One row per reported step of every trial of ``task``."""
        from meta_tune.store._frames import curves_frame

        info = self.get_task(task)
        return curves_frame(self._rows([task])[1], {task: info.space})

    @_guarded("read")
    def history(self, family: str | None = None, tasks: Iterable[str] | None = None) -> pd.DataFrame:
        """The trials of many tasks stacked (the format ``meta_tune.priors.fit`` reads).

        Args:
            family: Only tasks of this family.
            tasks: Only these tasks (with ``family``: the tasks in both).

        Returns:
            :meth:`trials` of each task, stacked, with ``meta:<name>`` meta-feature columns.
        """
        from meta_tune.store._frames import history_frame

        infos = self.list_tasks(family)
        if tasks is not None:
            wanted = set(tasks)
            for name in wanted - {t.name for t in self.list_tasks()}:
                self.get_task(name)  # raises the helpful error
            infos = [t for t in infos if t.name in wanted]
        frame = history_frame(self._rows([t.name for t in infos])[0], infos)
        which = "the tasks asked for" if tasks is not None else "the store"
        which = f"family {family!r}" if family else which
        frame.attrs["source"] = f"{which} in {mask_url(self.url)}"
        return frame

    def import_experiment(
        self,
        path: str | os.PathLike[str],
        *,
        task: str,
        metric: str | None = None,
        mode: str | None = None,
        family: str | None = None,
    ) -> dict[str, int]:
        """Import a finished (or still running) Tune experiment directory; idempotent.

        Returns:
            How many trials and results were new.
        """
        from meta_tune.store._import import import_experiment

        return import_experiment(self, Path(path), task=task, metric=metric, mode=mode, family=family)

    @_guarded("read")
    def export_tasks(
        self, path: str | os.PathLike[str], *, family: str | None = None, tasks: Iterable[str] | None = None
    ) -> int:
        """Write tasks with all their trials and curves to a Parquet archive (see :meth:`load_archive`).

        Args:
            path: The archive file to write (replaced atomically).
            family: Only tasks of this family.
            tasks: Only these tasks (default: every task, or every task of ``family``).

        Returns:
            The number of rows (reported steps) written.
        """
        from meta_tune.store._archive import export_archive

        names = list(tasks) if tasks is not None else [t.name for t in self.list_tasks(family)]
        if family is not None and tasks is not None:
            names = [n for n in names if self.get_task(n).family == family]
        return export_archive(self, Path(path), names)

    @_guarded("written")
    def load_archive(self, path: str | os.PathLike[str], *, family: str | None = None) -> dict[str, int]:
        """Load a Parquet archive of tasks into this store; idempotent.

        Args:
            path: A file written by :meth:`export_tasks` (or one meta-tune ships).
            family: Only the archive's tasks of this family.

        Returns:
            How many tasks, trials and results were new.
        """
        from meta_tune.store._archive import import_archive

        self._check_writable(f"load {path}")
        return import_archive(self, Path(path), family=family)

    @_guarded("read")
    def counts(self, task: str) -> dict[str, int]:
        """Numbers of trials and results of ``task``."""
        task_pk = self._task_pk(task)
        with self._session() as session:
            n_trials = session.scalar(select(func.count()).select_from(Trial).where(Trial.task_id == task_pk))
            n_results = session.scalar(
                select(func.count())
                .select_from(Result)
                .join(Trial, Result.trial_pk == Trial.id)
                .where(Trial.task_id == task_pk)
            )
        return {"trials": int(n_trials or 0), "results": int(n_results or 0)}

    def check(self) -> StoreCheck:
        """An integrity check of this store (see :func:`check_store`)."""
        from meta_tune.store._check import check_store

        return check_store(self._url)

    # ------------------------------------------------------------------ runs (StoreCallback)
    @_guarded("read")
    def _run_trials(self, task: str, run_id: str) -> dict[str, str]:
        """Trial id -> status of the trials ``run_id`` recorded in ``task``."""
        task_pk = self._task_pk(task)
        with self._session() as session:
            rows = session.execute(
                select(Trial.trial_id, Trial.status)
                .join(TrialRun, TrialRun.trial_pk == Trial.id)
                .where(Trial.task_id == task_pk, TrialRun.run_id == run_id)
            ).all()
        return {trial_id: status for trial_id, status in rows}

    @_guarded("written")
    def _drop_trials(self, task: str, trial_ids: Iterable[str]) -> int:
        """Delete trials of ``task`` with their results in one transaction; returns how many."""
        self._check_writable("drop trials")
        task_pk = self._task_pk(task)
        ids = sorted({str(t) for t in trial_ids})
        if not ids:
            return 0

        def write() -> int:
            with self._session() as session, session.begin():
                pks = list(
                    session.scalars(select(Trial.id).where(Trial.task_id == task_pk, Trial.trial_id.in_(ids)))
                )
                session.execute(delete(Result).where(Result.trial_pk.in_(pks)))
                session.execute(delete(TrialRun).where(TrialRun.trial_pk.in_(pks)))
                session.execute(delete(Trial).where(Trial.id.in_(pks)))
                return len(pks)

        return self._retry(write)


def _storable(text: str) -> bool:
    """Whether a text column can hold ``text``: valid UTF-8 (no lone surrogates), no NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _check_trial_id(trial_id: Any) -> None:
    if (
        not isinstance(trial_id, (str, int))
        or not 0 < len(str(trial_id)) <= 255
        or not _storable(str(trial_id))
    ):
        raise InvalidConfigError(
            f"A trial id must be a string of 1 to 255 characters (UTF-8, no NUL), got {trial_id!r}."
        )


def _info(row: Task) -> TaskInfo:
    return TaskInfo(
        name=row.name,
        family=row.family,
        metric=row.metric,
        mode=row.mode,
        meta_features=json.loads(row.meta_features or "{}"),
        space_json=row.space_json,
        space_fingerprint=row.space_fingerprint,
        created_at=row.created_at,
    )


def _check_same_task(row: Task, values: Mapping[str, Any]) -> None:
    for key in ("metric", "mode", "space_fingerprint"):
        stored, given = getattr(row, key), values[key]
        if stored is not None and given is not None and stored != given:
            what = "search space (fingerprint)" if key == "space_fingerprint" else key
            raise InvalidConfigError(
                f"Task {row.name!r} exists with {what} {stored!r}, not {given!r}. Use another task name, "
                "or the same settings."
            )


def _sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for an in-memory database)."""
    rest = url.split("://", 1)[1] if "://" in url else url
    rest = rest[1:] if rest.startswith("/") else rest
    rest = rest.split("?", 1)[0]
    if rest in ("", ":memory:"):
        return None
    return Path(rest)


def _check_folder(path: Path, shown: str) -> None:
    """Refuse a SQLite file whose folder is missing: a typo must not create folders and a store.

    Only the default store's folder (``~/.meta_tune``) is made, on the first write.
    """
    folder = path.parent
    if folder.is_dir() or Path(os.path.abspath(path)) == default_store_path():
        return
    what = "is not a folder" if folder.exists() else "does not exist"
    raise StoreError(
        f"Cannot open the store {shown}: the folder {folder} {what}. Check the path given with "
        f"--store/${STORE_ENV}, or create the folder first (mkdir -p {folder})."
    )


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _ro_uri(path: Path, *, immutable: bool = False) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")


def _connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection that changes nothing in the file.

    A file this process cannot write (and whose write-ahead log holds nothing) is opened
    ``immutable``: nobody can write it, and SQLite then needs no ``-shm`` file (which a
    read-only folder could not hold). Other files are opened in ``mode=ro``, falling back
    to ``immutable`` where SQLite cannot create the ``-shm`` file of a WAL database.
    """
    wal = path.with_name(path.name + "-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    if not os.access(path, os.W_OK) and not pending:
        return _ro_connection(path, immutable=True)
    try:
        return _ro_connection(path, immutable=False)
    except sqlite3.OperationalError as err:
        if "unable to open" not in str(err) and "readonly" not in str(err).lower():
            raise
        logger.info("Reading %s as immutable: SQLite cannot open it read-only (%s)", path, err)
        return _ro_connection(path, immutable=True)


def _ro_connection(path: Path, *, immutable: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(_ro_uri(path, immutable=immutable), uri=True, timeout=60, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


#: The first 16 bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"


def _inspect_sqlite(path: Path, shown: str) -> tuple[set[str], int | None]:
    """The tables and schema version of an SQLite file, read without changing it."""
    with path.open("rb") as file:
        if file.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:  # SQLite reads a few stray bytes as empty
            raise StoreError(
                f"Cannot open the store {shown}: it is not a readable SQLite database (no SQLite header) "
                "and was left unchanged. Point --store/$MT_STORE at another file, or restore the store "
                "from a backup."
            )
    try:
        conn = _connect_ro(path)
        try:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not name.startswith("sqlite_")
            }
            version = None
            if "meta_tune_schema" in tables:
                version = conn.execute("SELECT max(version) FROM meta_tune_schema").fetchone()[0]
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
        raise StoreError(
            f"Cannot open the store {shown}: it is not a readable SQLite database ({reason(err)}) and "
            "was left unchanged. Check it with `meta-tune --store URL store check`; if it is your store, "
            "restore it from a backup, else point --store/$MT_STORE at another file."
        ) from err
    return tables, None if version is None else int(version)


def _quick_check(path: Path, shown: str) -> None:
    """Raise StoreError unless SQLite's quick check finds ``path`` whole."""
    try:
        conn = _connect_ro(path)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
        rows = [reason(err)]
    if rows != ["ok"]:
        raise StoreError(
            f"The store {shown} is damaged ({'; '.join(rows)}); it was left unchanged. Check it with "
            "`meta-tune --store URL store check` and restore it from a backup."
        )


def _readonly_sqlite_engine(path: Path, shown: str) -> Engine:
    """An engine that only reads ``path``: ``mode=ro``, ``query_only``, deferred transactions."""

    def connect() -> sqlite3.Connection:
        try:
            return _connect_ro(path)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
            raise StoreError(f"Cannot read the store {shown}: {reason(err)}") from err

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def _use_wal(engine: Engine) -> None:
    """Switch an SQLite store to WAL (it stays so): concurrent readers while one process writes.

    Done before the first write, not on open, so that reading a store never changes its file.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() not in ("wal", "memory"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
    finally:
        raw.close()


def _configure_sqlite(engine: Engine) -> None:
    """A busy timeout, foreign keys, and write locks taken at BEGIN (no upgrade deadlocks)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
