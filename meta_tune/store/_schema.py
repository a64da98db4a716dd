"""The experiment store's tables (SQLAlchemy 2 ORM) and its schema version."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Bumped on every incompatible change; a store written by a newer meta-tune is refused.
#: Added tables (``trial_runs``, ``task_objectives``) are not incompatible: older versions ignore them.
SCHEMA_VERSION = 1
#: The tables of a meta-tune store; a database holding other tables only is not one.
TABLES = ("meta_tune_schema", "tasks", "trials", "results", "trial_runs", "task_objectives")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class SchemaVersion(Base):
    """One row: the schema version the store was written with."""

    __tablename__ = "meta_tune_schema"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class Task(Base):
    """A tuning task: what was tuned (space), for which metric, and how it relates to others."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    family: Mapped[str | None] = mapped_column(String(255), index=True)
    metric: Mapped[str | None] = mapped_column(String(255))
    mode: Mapped[str | None] = mapped_column(String(3))
    meta_features: Mapped[str] = mapped_column(Text, default="{}")
    space_json: Mapped[str | None] = mapped_column(Text)
    space_fingerprint: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Trial(Base):
    """One trial of a task: its config, status and final metrics."""

    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("task_id", "trial_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    trial_id: Mapped[str] = mapped_column(String(255))
    config: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    runtime_s: Mapped[float | None] = mapped_column(Float)
    last_iteration: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class Result(Base):
    """One reported step of a trial: a point of its learning curve."""

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("trial_pk", "training_iteration"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    training_iteration: Mapped[int] = mapped_column(Integer)
    time_total_s: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[str] = mapped_column(Text)


class TrialRun(Base):
    """Which Tune run recorded a trial (``StoreCallback``'s run id), so a resumed run finds its rows."""

    __tablename__ = "trial_runs"
    trial_pk: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)


class TaskObjective(Base):
    """The objectives of a task tuned for several metrics at once (its ``metric`` is the first).

    A task tuned for one metric has no row here. Added after ``tasks``: a store without this
    table (written by an older meta-tune, opened read-only) reads as one objective per task.
    """

    __tablename__ = "task_objectives"
    task_pk: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    #: JSON: ``[[metric, mode], ...]`` in the order the run gave them.
    objectives: Mapped[str] = mapped_column(Text)
