"""Importing a Tune experiment folder reads plain files only: nothing in the folder runs."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ray import cloudpickle

from meta_tune.cli import main
from meta_tune.errors import StoreError
from meta_tune.store import Store, read_experiment

FALLBACK = "CLOUDPICKLE_FALLBACK"


class WritesMarker:
    """Unpickling this object writes ``marker``: what a hostile folder would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "code from the folder ran"))


def fallback(obj: object) -> dict[str, str]:
    """What Tune's JSON encoder writes for an object JSON cannot hold."""
    return {"_type": FALLBACK, "value": cloudpickle.dumps(obj).hex()}


def result_line(trial_id: str, step: int, acc: float, config: dict[str, Any]) -> str:
    return json.dumps(
        {
            "acc": acc,
            "nested": {"loss": 1 - acc},
            "done": False,
            "training_iteration": step,
            "trial_id": trial_id,
            "time_total_s": 0.5 * step,
            "config": config,
            "pid": 1,
        }
    )


def write_trial(
    root: Path,
    trial_id: str,
    config: dict[str, Any],
    accs: list[float],
    *,
    error: str | None = None,
    payload: object = None,
) -> str:
    folder = f"train_{trial_id}_{trial_id[-1]}_2026-01-01"
    path = root / folder
    path.mkdir()
    (path / "params.json").write_text(json.dumps(config, sort_keys=True))
    (path / "result.json").write_text(
        "".join(result_line(trial_id, s, a, config) + "\n" for s, a in enumerate(accs, 1))
    )
    if error is not None:
        (path / "error.txt").write_text(error)
    if payload is not None:
        for name in ("params.pkl", "error.pkl"):
            (path / name).write_bytes(pickle.dumps(payload))
    return folder


def trial_entry(
    trial_id: str,
    status: str,
    config: dict[str, Any],
    folder: str | None,
    *,
    payload: object,
    error: bool = False,
) -> list[str]:
    state = {
        "trainable_name": "train",
        "trial_id": trial_id,
        "status": status,
        "config": config,
        "relative_logdir": folder,
        "storage": fallback(payload),
    }
    meta = {
        "error_filename": "error.txt" if error else None,
        "last_result": {"acc": 0.0},
        "checkpoint_manager": fallback(payload),
    }
    return [json.dumps(state), json.dumps(meta)]


def crafted_experiment(root: Path, marker: Path) -> Path:
    """A Tune experiment folder whose state, pickles and checkpoint all run code when unpickled."""
    payload = WritesMarker(marker)
    path = root / "experiment"
    path.mkdir()
    trials = [
        ("a_00000", "TERMINATED", {"lr": 0.1, "model": {"width": 8}}, [0.5, 0.7, 0.8], None),
        ("a_00001", "TERMINATED", {"lr": 0.3, "model": {"width": 16}}, [0.6, 0.9, 0.95], None),
        ("a_00002", "ERROR", {"lr": 9.0, "model": {"width": 8}}, [0.99], "RuntimeError: diverged\n"),
        ("a_00003", "RUNNING", {"lr": 0.2, "model": {"width": 4}}, [0.4], None),
    ]
    entries = []
    for trial_id, status, config, accs, error in trials:
        folder = write_trial(path, trial_id, config, accs, error=error, payload=payload)
        entries.append(
            trial_entry(trial_id, status, config, folder, payload=payload, error=error is not None)
        )
    # A trial whose config Tune could only cloudpickle: its params.json gives the plain config.
    folder = write_trial(path, "a_00004", {"lr": 0.05, "model": {"width": 32}}, [0.7, 0.75, 0.85])
    entries.append(
        trial_entry(
            "a_00004", "TERMINATED", {"lr": 0.05, "model": fallback(payload)}, folder, payload=payload
        )
    )
    state = {
        "trial_data": entries,
        "runner_data": {
            "_metric": "acc",
            "_stopper": fallback(payload),
            "_trial_checkpoint_config": fallback(payload),
        },
        "stats": {"start_time": 0.0},
    }
    (path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps(state))
    for name in ("tuner.pkl", "searcher-state-2026-01-01_00-00-00.pkl", "basic-variant-state-x.json"):
        (path / name).write_bytes(pickle.dumps(payload))
    checkpoint = path / "train_a_00000_0_2026-01-01" / "checkpoint_000000"
    checkpoint.mkdir()
    (checkpoint / "state.pt").write_bytes(pickle.dumps(payload))
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "marker"


@pytest.fixture
def experiment(tmp_path: Path, marker: Path) -> Path:
    path = crafted_experiment(tmp_path, marker)
    assert not marker.exists()
    return path


def test_the_payload_runs_when_unpickled(tmp_path: Path) -> None:
    # The control: what Ray's ExperimentAnalysis (and Tuner.restore) do with these entries.
    marker = tmp_path / "control"
    cloudpickle.loads(bytes.fromhex(fallback(WritesMarker(marker))["value"]))
    assert marker.read_text() == "code from the folder ran"


def test_the_cli_imports_the_trials_and_nothing_in_the_folder_runs(
    experiment: Path, marker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    main(["--store", url, "store", "import", str(experiment), "--task", "crafted", "--mode", "max"])
    assert "Imported" in capsys.readouterr().out
    assert not marker.exists()
    store = Store(url)
    trials = store.trials("crafted").set_index("trial_id")
    assert trials["status"].to_dict() == {
        "a_00000": "TERMINATED",
        "a_00001": "TERMINATED",
        "a_00002": "ERROR",
        "a_00003": "RUNNING",
        "a_00004": "TERMINATED",
    }
    assert trials.loc["a_00001", "acc"] == 0.95 and trials.loc["a_00001", "model/width"] == 16
    assert trials.loc["a_00001", "runtime_s"] == 1.5 and trials.loc["a_00001", "training_iteration"] == 3
    assert trials.loc["a_00002", "error"] == "RuntimeError: diverged\n"
    assert trials.loc["a_00004", "model/width"] == 32  # from params.json, not the pickled config
    assert len(store.curves("crafted")) == 3 + 3 + 1 + 1 + 3
    task = store.get_task("crafted")
    assert (task.metric, task.mode) == ("acc", "max")  # the metric from the state's plain JSON
    main(["--store", url, "store", "import", str(experiment), "--task", "crafted"])
    assert "0 trials, 0 results" in capsys.readouterr().out  # idempotent
    assert not marker.exists()


def test_read_experiment_equals_import_then_trials(experiment: Path, marker: Path, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.import_experiment(experiment, task="crafted")
    frame = read_experiment(experiment, task="crafted")
    pd.testing.assert_frame_equal(frame, store.trials("crafted"))
    assert set(read_experiment(experiment)["task"]) == {"experiment"}
    assert {
        "task",
        "trial_id",
        "status",
        "lr",
        "model/width",
        "acc",
        "nested/loss",
        "training_iteration",
        "runtime_s",
        "error",
    } <= set(frame.columns)
    assert not marker.exists()


def test_files_outside_the_folder_are_never_read(tmp_path: Path, marker: Path) -> None:
    path = crafted_experiment(tmp_path, marker)
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2")
    outside = tmp_path / "outside"
    write_trial(tmp_path, "b_00000", {"lr": 1.0}, [0.1])
    (tmp_path / "train_b_00000_0_2026-01-01").rename(outside)
    state_file = next(path.glob("experiment_state-*.json"))
    state = json.loads(state_file.read_text())
    state["trial_data"].append(trial_entry("b_00000", "TERMINATED", {"lr": 1.0}, "../outside", payload=None))
    state_file.write_text(json.dumps(state))
    errored = next(path.glob("train_a_00002_*"))
    (errored / "error.txt").unlink()
    os.symlink(secret, errored / "error.txt")
    frame = read_experiment(path).set_index("trial_id")
    assert frame.loc["b_00000", "acc"] == 0.0  # the state's last result, not the outside folder's 0.1
    assert frame.loc["a_00002", "error"] == "the trial errored (no error file was written)"
    assert not frame.astype(str).apply(lambda c: c.str.contains("hunter2")).any().any()


def test_plain_files_alone_still_tell_results_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "exp"
    path.mkdir()
    (path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": []}))
    folder = path / write_trial(path, "c_00000", {"lr": 0.1}, [0.2, 0.4], error="ValueError: nan loss\n")
    csv_only = path / write_trial(path, "c_00001", {"lr": 0.2}, [0.3])
    (csv_only / "result.json").unlink()
    (csv_only / "progress.csv").write_text(
        "acc,done,training_iteration,trial_id,time_total_s,nested/loss\n0.3,False,1,c_00001,0.5,0.7\n"
    )
    frame = read_experiment(path).set_index("trial_id")
    assert frame.loc["c_00000", "status"] == "ERROR" and "nan loss" in frame.loc["c_00000", "error"]
    assert frame.loc["c_00001", "status"] == "RUNNING"
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.import_experiment(path, task="t")
    curves = store.curves("t").set_index("trial_id")
    assert curves.loc["c_00001", "nested/loss"] == 0.7 and curves.loc["c_00001", "acc"] == 0.3
    assert folder.is_dir()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", r"Cannot read the Tune experiment state .*experiment_state-x.json"),
        ('["a list"]', r"is not a Ray Tune experiment state \(a JSON object with a 'trial_data' list\)"),
    ],
)
def test_a_damaged_state_file_is_one_clear_error(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "experiment_state-x.json").write_text(content)
    with pytest.raises(StoreError, match=match):
        read_experiment(tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["state", "result", "params", "error"]),
    cut=st.none() | st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
)
def test_a_damaged_folder_reads_or_gives_one_store_error_and_never_runs_its_code(
    tmp_path_factory: pytest.TempPathFactory, which: str, cut: int | None, flips: list[tuple[int, int]]
) -> None:
    root = tmp_path_factory.mktemp("damaged")
    marker = root / "marker"
    path = crafted_experiment(root, marker)
    trial = next(path.glob("train_a_00002_*"))
    target = {
        "state": next(path.glob("experiment_state-*.json")),
        "result": trial / "result.json",
        "params": trial / "params.json",
        "error": trial / "error.txt",
    }[which]
    data = bytearray(target.read_bytes())
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    target.write_bytes(bytes(data))
    try:
        frame = read_experiment(path)
    except StoreError as err:
        assert which == "state" and str(target) in str(err)
    else:
        assert set(frame["status"]) <= {"TERMINATED", "ERROR", "RUNNING"}
    assert not marker.exists()
