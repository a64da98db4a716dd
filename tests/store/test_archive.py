"""Store archives: export to Parquet and load back, between SQLite and PostgreSQL, idempotently."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from ray import tune

from meta_tune.errors import StoreError
from meta_tune.store import Store

SPACE = {"lr": tune.loguniform(1e-4, 1e-1), "model": tune.choice(["cnn", "resnet"]), "task": "a"}


def _fill(store: Store) -> None:
    for name, family in [("fam/a", "fam"), ("fam/b", "fam"), ("other/c", "other")]:
        store.create_task(name, metric="acc", mode="max", family=family, space=SPACE,
                          meta_features={"n": 100 if name.endswith("a") else 200})
        for t in range(3):
            config = {"lr": 10.0 ** -(t + 1), "model": "cnn", "task": name[-1]}
            for step in range(1, t + 2):
                store.record_result(name, f"t{t}", training_iteration=step, time_total_s=step * 0.5,
                                    metrics={"acc": 0.5 + 0.1 * step, "loss": math.nan}, config=config)
            store.record_trial(name, f"t{t}", config=config, status="TERMINATED",
                               metrics={"acc": 0.5 + 0.1 * (t + 1)}, runtime_s=1.5, last_iteration=t + 1)
        store.record_trial(name, "failed", config={"lr": 1.0, "model": "resnet", "task": name[-1]},
                           status="ERROR", error="RuntimeError: diverged")


def _snapshot(store: Store, family: str | None = None) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    return {t.name: (store.trials(t.name), store.curves(t.name)) for t in store.list_tasks(family)}


def test_an_archive_restores_tasks_trials_and_curves_exactly(store_url: str, tmp_path: Path) -> None:
    source = Store(f"sqlite:///{tmp_path / 'source.db'}")
    _fill(source)
    rows = source.export_tasks(tmp_path / "fam.parquet", family="fam")
    assert rows == 2 * (1 + 2 + 3 + 1)  # every step, and one row for the trial that reported none
    target = Store(store_url)
    assert target.load_archive(tmp_path / "fam.parquet") == {"tasks": 2, "trials": 8, "results": 12}
    assert [t.name for t in target.list_tasks()] == ["fam/a", "fam/b"]
    for name, (trials, curves) in _snapshot(source, "fam").items():
        pd.testing.assert_frame_equal(target.trials(name), trials)
        pd.testing.assert_frame_equal(target.curves(name), curves)
        info, original = target.get_task(name), source.get_task(name)
        assert (info.family, info.metric, info.mode, info.meta_features, info.space_fingerprint) == (
            original.family, original.metric, original.mode, original.meta_features, original.space_fingerprint)
    # Loading again adds nothing and changes nothing.
    assert target.load_archive(tmp_path / "fam.parquet") == {"tasks": 0, "trials": 0, "results": 0}
    pd.testing.assert_frame_equal(target.curves("fam/a"), source.curves("fam/a"))


def test_loading_keeps_what_the_store_already_has(tmp_path: Path) -> None:
    source = Store(f"sqlite:///{tmp_path / 'source.db'}")
    _fill(source)
    source.export_tasks(tmp_path / "all.parquet", tasks=["fam/a"])
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    target.create_task("fam/a", metric="acc", mode="max", family="fam", space=SPACE)
    target.record_trial("fam/a", "t0", config={"lr": 0.5}, status="RUNNING")
    assert target.load_archive(tmp_path / "all.parquet") == {"tasks": 0, "trials": 3, "results": 5}
    kept = target.trials("fam/a").set_index("trial_id")
    assert kept.loc["t0", "lr"] == 0.5 and kept.loc["t0", "status"] == "RUNNING"


def test_family_filter_and_bad_archives(tmp_path: Path) -> None:
    source = Store(f"sqlite:///{tmp_path / 'source.db'}")
    _fill(source)
    source.export_tasks(tmp_path / "all.parquet")
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    assert target.load_archive(tmp_path / "all.parquet", family="other")["tasks"] == 1
    assert [t.name for t in target.list_tasks()] == ["other/c"]
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(StoreError, match="not a meta-tune store archive"):
        target.load_archive(tmp_path / "junk.parquet")
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(StoreError, match="not a meta-tune store archive"):
        target.load_archive(tmp_path / "plain.parquet")


def test_an_archive_keeps_a_tasks_several_objectives(tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    source = Store(f"sqlite:///{tmp_path / 'source.db'}")
    _fill(source)
    pairs = [("acc", "max"), ("time_total_s", "min")]
    source.set_objectives("fam/a", pairs)
    source.export_tasks(tmp_path / "fam.parquet", family="fam")
    target = Store(f"sqlite:///{tmp_path / 'target.db'}")
    target.load_archive(tmp_path / "fam.parquet")
    assert target.objectives("fam/a") == pairs
    assert target.objectives("fam/b") == [("acc", "max")]  # one objective stays one
    target.load_archive(tmp_path / "fam.parquet")  # loading again changes nothing
    assert target.objectives("fam/a") == pairs
    # An archive written before objectives travelled (no "objectives" key) loads as one objective.
    table = pq.read_table(tmp_path / "fam.parquet")
    metadata = dict(table.schema.metadata)
    tasks = json.loads(metadata[b"meta_tune.tasks"])
    assert [t.get("objectives") for t in tasks] == [[list(p) for p in pairs], None]
    metadata[b"meta_tune.tasks"] = json.dumps([{k: v for k, v in t.items() if k != "objectives"} for t in tasks])
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / "old.parquet")
    older = Store(f"sqlite:///{tmp_path / 'older.db'}")
    assert older.load_archive(tmp_path / "old.parquet")["tasks"] == 2
    assert older.objectives("fam/a") == [("acc", "max")]


def test_store_export_load_and_ls_show_several_objectives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from meta_tune.cli import main

    source_url, target_url = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    source = Store(source_url)
    _fill(source)
    source.set_objectives("fam/a", [("acc", "max"), ("time_total_s", "min")])
    main(["--store", source_url, "store", "export", str(tmp_path / "fam.parquet"), "--family", "fam"])
    main(["--store", target_url, "store", "load", str(tmp_path / "fam.parquet")])
    capsys.readouterr()
    main(["--store", target_url, "store", "ls"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["task", "family", "metric", "mode", "trials", "best"]
    assert lines[1].split()[:4] == ["fam/a", "fam", "acc,time_total_s", "max,min"]
    assert lines[2].split()[:4] == ["fam/b", "fam", "acc", "max"]
