"""Property tests of the store: what goes in comes back; a damaged file never gives a traceback.

Round trips: any config (nested dicts of ints, floats incl. NaN and +-inf, bools, strings,
None), any metric values, any trial status -> ``Store.trials``/``curves`` give back exactly
what was recorded (in the documented frame layout). Damaged files: random bytes overwritten
or the file cut short -> every read either works or raises ``StoreError`` with one line, and
the file is byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meta_tune.cli import main
from meta_tune.errors import InvalidConfigError, MetaTuneError
from meta_tune.space import flatten
from meta_tune.store import BOOKKEEPING, Store

KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
CONFIGS = st.recursive(SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=4), max_leaves=12).filter(
    lambda c: isinstance(c, dict)
) | st.dictionaries(KEYS, SCALARS, max_size=6)
METRICS = st.dictionaries(
    KEYS.filter(lambda k: k not in BOOKKEEPING),
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**53), 2**53)
    | st.booleans()
    | st.text(max_size=5),
    max_size=5,
)
# Any status a store can hold: 1 to 32 characters of UTF-8 without NUL (PostgreSQL text cannot
# hold NUL, no database a lone surrogate; record_trial refuses those, tested below).
STATUSES = st.sampled_from(["TERMINATED", "ERROR", "RUNNING", "PENDING", "PAUSED"]) | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=32
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b if not isinstance(a, (int, float)) else a == b


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics a frame shows: numeric ones (booleans as 0/1), flattened, as floats."""
    return {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (bool, int, float))}


def expected_columns(config: dict[str, Any], metrics: dict[str, float], reserved: set[str]) -> dict[str, Any]:
    """Column -> value of one trial's frame row (the renaming rules of ``meta_tune.store._frames``)."""
    flat = flatten(config)
    out = {f"config:{k}" if k in reserved else k: v for k, v in flat.items()}
    for name, value in metrics.items():
        out[f"result:{name}" if name in flat or name in reserved else name] = value
    return out


def cell(value: Any) -> Any:
    """A frame cell as plain Python (numpy scalars to Python, NaN kept)."""
    return value.item() if hasattr(value, "item") else value


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_store")
    return Store(request.getfixturevalue("postgres_url"))


@FUZZ
@given(config=CONFIGS, final=METRICS, steps=st.lists(METRICS, max_size=3), status=STATUSES)
def test_what_goes_in_comes_back(
    store: Store, config: dict[str, Any], final: dict[str, Any], steps: list[dict[str, Any]], status: str
) -> None:
    task = f"t{uuid.uuid4().hex[:8]}"
    store.create_task(task, metric="m", mode="max")
    for step, metrics in enumerate(steps, start=1):
        store.record_result(task, "trial", training_iteration=step, metrics=metrics, config=config)
    store.record_trial(
        task, "trial", config=config, status=status, metrics=final, last_iteration=len(steps) or None
    )
    row = store.trials(task).iloc[0]
    assert row["status"] == status and row["trial_id"] == "trial" and row["task"] == task
    reserved = {"task", "trial_id", "status", "training_iteration", "runtime_s", "error"}
    for column, value in expected_columns(config, numeric(final), reserved).items():
        assert same(value, cell(row[column])), (column, value, cell(row[column]))
    curves = store.curves(task)
    assert curves["training_iteration"].tolist() == list(range(1, len(steps) + 1))
    reserved = {"task", "trial_id", "training_iteration", "time_total_s"}
    for (_, curve_row), metrics in zip(curves.iterrows(), steps):
        for column, value in expected_columns(config, numeric(metrics), reserved).items():
            got = cell(curve_row[column])
            assert same(value, got), (column, value, got)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small store in one file (rollback journal), to damage copies of."""
    path = tmp_path_factory.mktemp("healthy") / "store.db"
    store = Store(f"sqlite:///{path}")
    for name in ("fam/a", "fam/b"):
        store.create_task(name, metric="acc", mode="max", family="fam", meta_features={"n": 10})
        for i in range(12):
            config = {"lr": 10.0 ** -(i % 4), "model": {"width": 16 * i, "act": "relu"}}
            for step in (1, 2):
                store.record_result(
                    name, f"t{i}", training_iteration=step, metrics={"acc": i / 12}, config=config
                )
            store.record_trial(name, f"t{i}", config=config, status="TERMINATED", metrics={"acc": i / 12})
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


DAMAGE = st.one_of(
    st.lists(
        st.tuples(st.integers(0, 200_000), st.binary(min_size=1, max_size=64)), min_size=1, max_size=6
    ).map(lambda patches: ("patch", patches)),
    st.integers(0, 200_000).map(lambda size: ("truncate", size)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=DAMAGE)
def test_a_damaged_file_never_gives_a_traceback_and_is_never_changed(
    healthy: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], damage: Any
) -> None:
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / "store.db"
    data = bytearray(healthy.read_bytes())
    kind, how = damage
    if kind == "truncate":
        data = data[: how % (len(data) + 1)]
    else:
        for offset, patch in how:
            start = offset % len(data)
            data[start : start + len(patch)] = patch
    path.write_bytes(bytes(data))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    url = f"sqlite:///{path}"
    # An empty file is a new store (``touch store.db``): Store(url) initialises it, by design.
    for read_only in (True, False) if data else (True,):
        try:
            store = Store(url, read_only=read_only)
            for task in store.list_tasks():
                store.trials(task.name)
                store.curves(task.name)
            store.history(family="fam")
            store.close()
        except MetaTuneError as err:
            assert "\n" not in str(err)
    for args in (["store", "ls"], ["store", "show", "fam/a"], ["store", "check"]):
        try:
            main(["--store", url, *args])
        except SystemExit as exit_info:
            assert exit_info.code in (0, 1)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and captured.err.count("\n") <= 1, captured.err
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("status", ["", "x" * 33, "TERMI\x00NATED", "\ud800", None])
def test_statuses_a_store_cannot_hold_are_refused_clearly(sqlite_store: Store, status: Any) -> None:
    sqlite_store.create_task("refused", exist_ok=True)
    with pytest.raises(InvalidConfigError, match="A trial status must be a string of 1 to 32 characters"):
        sqlite_store.record_trial("refused", "t", config={}, status=status)
