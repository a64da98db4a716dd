"""StoreCallback across a driver's death and Tune's restore, driven by hand (no Ray): each trial once."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from meta_tune.store import Store, StoreCallback, has_experiment_checkpoint, restore_or_start


@dataclass
class FakeTrial:
    """What StoreCallback reads of a Tune trial."""

    trial_id: str
    status: str = "RUNNING"
    config: dict[str, Any] = field(default_factory=dict)
    last_result: dict[str, Any] = field(default_factory=dict)
    error_file: str | None = None

    def report(self, callback: StoreCallback, trials: list[FakeTrial], step: int) -> None:
        self.last_result = {"training_iteration": step, "score": step / 10, "time_total_s": step * 0.1}
        callback.on_trial_result(0, trials, self, dict(self.last_result))

    def complete(self, callback: StoreCallback, trials: list[FakeTrial]) -> None:
        self.status = "TERMINATED"
        callback.on_trial_complete(0, trials, self)


def rows(url: str) -> dict[str, tuple[str, int]]:
    frame = Store(url).trials("t")
    return {r.trial_id: (r.status, r.training_iteration) for r in frame.itertuples()}


def test_a_resumed_run_drops_what_tune_forgot_and_marks_what_it_runs_again(store_url: str) -> None:
    callback = StoreCallback(store_url, task="t", metric="score", mode="max")
    callback.setup()
    a, b, c = (FakeTrial(name, config={"x": i}) for i, name in enumerate("abc"))
    trials = [a, b]
    for step in (1, 2):
        a.report(callback, trials, step)
        b.report(callback, trials, step)
    a.complete(callback, trials)
    checkpoint = callback.get_state()  # Tune's experiment checkpoint: a finished, b running
    pickled = pickle.dumps(callback)  # what Tuner.restore unpickles (tuner.pkl)
    b.report(callback, trials, 3)
    b.complete(callback, trials)
    trials.append(c)  # suggested after the checkpoint; runs, finishes, then the driver dies
    c.report(callback, trials, 1)
    c.complete(callback, trials)
    assert rows(store_url) == {"a": ("TERMINATED", 2), "b": ("TERMINATED", 3), "c": ("TERMINATED", 1)}

    # Tuner.restore: a stays finished, b is resumed (same id), c is forgotten: Tune suggests it
    # again under a new id.
    resumed = pickle.loads(pickled)
    resumed.set_state(checkpoint)
    resumed.setup()
    a2 = FakeTrial("a", "TERMINATED", a.config, a.last_result)
    b2 = FakeTrial("b", "PENDING", b.config, {"training_iteration": 2, "score": 0.2})
    trials = [a2, b2]
    resumed.on_step_begin(0, trials)
    assert rows(store_url) == {"a": ("TERMINATED", 2), "b": ("RUNNING", 3)}
    c2 = FakeTrial("c2", config=c.config)
    trials.append(c2)
    for trial in (b2, c2):
        trial.report(resumed, trials, 1)
    b2.report(resumed, trials, 2)
    b2.complete(resumed, trials)
    c2.complete(resumed, trials)
    resumed.on_experiment_end(trials)
    # b's second attempt ended at step 2: its first attempt's step 3 is gone with it.
    assert rows(store_url) == {"a": ("TERMINATED", 2), "b": ("TERMINATED", 2), "c2": ("TERMINATED", 1)}
    curves = Store(store_url).curves("t")
    assert curves.groupby("trial_id")["training_iteration"].apply(list).to_dict() == {
        "a": [1, 2],
        "b": [1, 2],
        "c2": [1],
    }
    assert curves.loc[curves["trial_id"] == "b", "score"].tolist() == [0.1, 0.2]


def test_an_interrupted_run_marks_its_unfinished_trials_and_a_resume_finishes_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    callback = StoreCallback(url, task="t")
    callback.setup()
    a, b = FakeTrial("a"), FakeTrial("b")
    trials = [a, b]
    a.report(callback, trials, 1)
    b.report(callback, trials, 1)
    a.complete(callback, trials)
    state = callback.get_state()
    callback.on_experiment_end(trials)  # e.g. Ctrl-C: Tune ends the run with b unfinished
    assert rows(url) == {"a": ("TERMINATED", 1), "b": ("INTERRUPTED", 1)}
    resumed = pickle.loads(pickle.dumps(callback))
    resumed.set_state(state)
    resumed.setup()
    b.status = "PENDING"
    resumed.on_step_begin(0, trials)
    assert rows(url)["b"] == ("RUNNING", 1)
    b.report(resumed, trials, 2)
    b.complete(resumed, trials)
    resumed.on_experiment_end(trials)
    assert rows(url) == {"a": ("TERMINATED", 1), "b": ("TERMINATED", 2)}


def test_new_runs_never_touch_the_rows_of_earlier_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    callback = StoreCallback(url, task="t")
    for run, name in enumerate(("first", "second", "third")):
        if run == 2:
            callback = StoreCallback(url, task="t")
        callback.setup()  # a new fit (the same callback object or a new one): a new run
        trial = FakeTrial(name)
        trial.report(callback, [trial], 1)
        callback.on_experiment_end([trial])
    assert rows(url) == {
        "first": ("INTERRUPTED", 1),
        "second": ("INTERRUPTED", 1),
        "third": ("INTERRUPTED", 1),
    }


def test_a_run_killed_before_tunes_first_checkpoint_is_started_over(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert restore_or_start(folder, None, start=lambda: "new") == "new"  # nothing there yet
    folder.mkdir()
    (folder / "tuner.pkl").write_bytes(b"written by Tuner.fit before its first experiment checkpoint")
    assert not has_experiment_checkpoint(folder)
    assert restore_or_start(folder, None, start=lambda: "new") == "new"
    (folder / "experiment_state-2026-01-01_00-00-00.json").write_text("{}")
    assert has_experiment_checkpoint(folder)


@pytest.mark.parametrize("broken", ["refused", "read-only"])
def test_a_store_that_cannot_be_written_never_stops_the_run(
    tmp_path: Path, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    callback = StoreCallback(url, task="t")
    callback.setup()
    if broken == "refused":
        callback._url = "postgresql+psycopg://tuner:Sup3rSecret@127.0.0.1:1/db"
        callback._store = None
    else:
        callback._store = Store(url, read_only=True)
    trial = FakeTrial("a")
    trial.report(callback, [trial], 1)
    trial.complete(callback, [trial])
    callback.on_experiment_end([trial])
    assert "Could not record trial a of task 't'" in caplog.text
    assert "Sup3rSecret" not in caplog.text + repr(callback)
