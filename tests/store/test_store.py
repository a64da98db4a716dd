"""The store API on SQLite and PostgreSQL: tasks, trials, curves, history, errors."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from ray import tune

from meta_tune.errors import InvalidConfigError, StoreError, StoreSchemaError
from meta_tune.space import SearchSpace
from meta_tune.store import Store, default_store_url

SPACE = {"lr": tune.loguniform(1e-4, 1e-1), "model": {"width": tune.choice([32, 64])}, "epochs": 3}


def test_tasks_are_created_listed_and_deleted(store_url: str) -> None:
    store = Store(store_url)
    info = store.create_task(
        "mlp/digits", metric="acc", mode="max", family="mlp", space=SPACE, meta_features={"rows": 1797}
    )
    assert info.space == SearchSpace.from_tune(SPACE)
    assert info.space_fingerprint == SearchSpace.from_tune(SPACE).fingerprint
    store.create_task("mlp/iris", metric="acc", mode="max", family="mlp")
    store.create_task("cnn/fashion", metric="loss", mode="min", family="cnn")
    assert [t.name for t in store.list_tasks()] == ["mlp/digits", "mlp/iris", "cnn/fashion"]
    assert [t.name for t in store.list_tasks(family="mlp")] == ["mlp/digits", "mlp/iris"]
    assert store.get_task("mlp/digits").meta_features == {"rows": 1797}
    store.record_result("mlp/iris", "t1", training_iteration=1, metrics={"acc": 0.5}, config={"lr": 0.1})
    store.delete_task("mlp/iris")
    assert [t.name for t in store.list_tasks()] == ["mlp/digits", "cnn/fashion"]
    with pytest.raises(StoreError, match=r"No task 'mlp/iris'.*Did you mean \['mlp/digits'\]"):
        store.trials("mlp/iris")


def test_creating_a_task_twice_needs_exist_ok_and_the_same_settings(store_url: str) -> None:
    store = Store(store_url)
    store.create_task("t", metric="acc", mode="max", space=SPACE)
    with pytest.raises(StoreError, match=r"Task 't' already exists.*exist_ok=True"):
        store.create_task("t", metric="acc", mode="max")
    assert store.create_task("t", metric="acc", mode="max", exist_ok=True).metric == "acc"
    with pytest.raises(InvalidConfigError, match="Task 't' exists with mode 'max', not 'min'"):
        store.create_task("t", metric="acc", mode="min", exist_ok=True)
    with pytest.raises(InvalidConfigError, match="exists with search space"):
        store.create_task("t", space={"lr": tune.uniform(0, 1)}, exist_ok=True)
    with pytest.raises(InvalidConfigError, match="mode must be 'min' or 'max', got 'up'"):
        store.create_task("u", metric="acc", mode="up")


def test_trials_and_curves_come_back_as_history_frames(store_url: str) -> None:
    store = Store(store_url)
    store.create_task("t", metric="acc", mode="max", family="f", meta_features={"rows": 100})
    for i in range(3):
        config = {"lr": 0.1 * (i + 1), "model": {"width": 32 * (i + 1)}, "epochs": 3}
        for step in (1, 2, 3):
            store.record_result(
                "t",
                f"trial_{i}",
                training_iteration=step,
                time_total_s=step * 1.5,
                metrics={"acc": 0.1 * step + i, "loss": {"train": 1.0 / step}},
                config=config,
            )
        store.record_trial(
            "t",
            f"trial_{i}",
            config=config,
            status="TERMINATED",
            metrics={"acc": 0.3 + i, "loss": {"train": 1 / 3}},
            runtime_s=4.5,
            last_iteration=3,
        )
    trials = store.trials("t")
    assert list(trials.columns) == [
        "task",
        "trial_id",
        "status",
        "lr",
        "model/width",
        "epochs",
        "acc",
        "loss/train",
        "training_iteration",
        "runtime_s",
        "error",
    ]
    assert trials["acc"].tolist() == pytest.approx([0.3, 1.3, 2.3])
    assert trials["model/width"].tolist() == [32, 64, 96]
    curves = store.curves("t")
    assert len(curves) == 9 and curves["training_iteration"].tolist() == [1, 2, 3] * 3
    assert curves["time_total_s"].tolist() == pytest.approx([1.5, 3.0, 4.5] * 3)
    history = store.history(family="f")
    assert history["meta:rows"].tolist() == [100, 100, 100]
    assert store.history(family="other").empty


def test_results_are_idempotent_and_never_lose_the_config(store_url: str) -> None:
    store = Store(store_url)
    store.create_task("t", metric="acc", mode="max")
    for _ in range(2):
        store.record_result("t", "a", training_iteration=1, metrics={"acc": 0.5}, config={"lr": 0.1})
    store.record_result("t", "a", training_iteration=2, metrics={"acc": 0.6})
    assert store.counts("t") == {"trials": 1, "results": 2}
    trials = store.trials("t")
    assert trials["lr"].tolist() == [0.1] and trials["status"].tolist() == ["RUNNING"]
    assert trials["training_iteration"].tolist() == [2]


def test_nan_and_infinite_metrics_and_odd_configs_round_trip(store_url: str) -> None:
    store = Store(store_url)
    store.create_task("t", metric="loss", mode="min")
    import numpy as np

    config = {"lr": np.float32(0.5), "layers": np.int64(3), "shape": (2, 3), "name": "x"}
    store.record_trial(
        "t",
        "nan",
        config=config,
        status="TERMINATED",
        metrics={"loss": float("nan"), "gain": float("inf"), "note": "diverged"},
    )
    store.record_trial(
        "t", "err", config={"lr": 0.1}, status="ERROR", error="Traceback ...\nValueError: boom"
    )
    trials = store.trials("t").set_index("trial_id")
    assert math.isnan(trials.loc["nan", "loss"]) and trials.loc["nan", "gain"] == math.inf
    assert "note" not in trials.columns  # strings stay in the JSON, out of the frame
    assert trials.loc["nan", "layers"] == 3 and trials.loc["nan", "shape"] == [2, 3]
    assert trials.loc["err", "error"].endswith("ValueError: boom")


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta_tune_schema SET version = 99")
    with pytest.raises(
        StoreSchemaError, match=r"schema version 99, newer than this meta-tune's 1\. Upgrade meta-tune"
    ):
        Store(f"sqlite:///{path}")


def test_bad_urls_and_files_get_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="Cannot open the store"):
        Store(str(junk))
    with pytest.raises(StoreError, match=r"Cannot open the store nosuchdb://x: .*sqlite:///path\.db"):
        Store("nosuchdb://x")
    assert junk.read_bytes() == b"this is not a database" * 100  # nothing overwritten


def test_default_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MT_STORE", raising=False)
    assert default_store_url().endswith(".meta_tune/store.db")
    monkeypatch.setenv("MT_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    assert Store().url == f"sqlite:///{tmp_path / 'env.db'}"
    assert Store(str(tmp_path / "plain.db")).url == f"sqlite:///{tmp_path / 'plain.db'}"
