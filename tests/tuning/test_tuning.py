"""Tuning runs of the trainables on real Ray: one run, collection, the side-by-side comparison."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from meta_tune.cli._main import cli
from meta_tune.errors import InvalidConfigError
from meta_tune.store import Store
from meta_tune.trainables import get
from meta_tune.tuning import (
    Experiment,
    best_at_seconds,
    best_at_trials,
    collect,
    compare,
    run_experiment,
    trials_to_reach,
    tune_task,
)

IMAGE = get("image")
TINY = {"width": 8, "blocks": 1}  # keeps every trial well under a second


def test_a_prior_searcher_without_related_runs_says_what_to_do_before_any_trial(tmp_path: Path) -> None:
    experiment = Experiment.model_validate({
        "trainable": {"family": "image", "task": "digits"}, "searcher": "transfer_bo",
        "prior": {"family": "nobody-ran-this"}, "storage_path": tmp_path,
    })
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(InvalidConfigError, match=r"has none in family 'nobody-ran-this'.*meta-tune collect"):
        run_experiment(experiment, store=store)  # no Ray runtime: it fails before Tune starts
    with pytest.raises(InvalidConfigError, match="meta-tune collect"):
        tune_task(IMAGE, "digits", searcher="prior", samples=2, store=store, store_task="x",
                  history=pd.DataFrame(), storage_path=tmp_path)


@pytest.mark.integration
def test_collect_records_whole_curves_and_resumes_without_losing_trials(
    ray_session: None, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    # 2 epochs are not the family's standard 6: recorded apart from the standard-length history.
    collect(IMAGE, ["digits_5to9"], samples=2, epochs=2, store=store, storage_path=tmp_path / "ray")
    first = store.trials("image@e2/digits_5to9")
    assert len(first) == 2 and (first["training_iteration"] == 2).all()
    assert store.get_task("image@e2/digits_5to9").family == "image@e2"
    assert len(store.curves("image@e2/digits_5to9")) == 4
    # Asking for 3 trials runs only the missing one and keeps the first two as they were.
    collect(IMAGE, ["digits_5to9"], samples=3, epochs=2, store=store, storage_path=tmp_path / "ray")
    after = store.trials("image@e2/digits_5to9")
    assert len(after) == 3
    pd.testing.assert_frame_equal(after.head(2), first)
    history = store.history(family="image@e2")
    assert set(history["task"]) == {"image@e2/digits_5to9"} and history["config:task"].eq("digits_5to9").all()
    assert store.history(family="image").empty


@pytest.mark.integration
def test_compare_runs_both_searchers_with_a_prior_that_never_saw_the_task(
    ray_session: None, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    for task in ("digits_5to9", "digits_0to4"):  # a small image history, recorded as the family's
        tune_task(IMAGE, task, searcher="random", scheduler="fifo", samples=4, epochs=2, store=store,
                  store_task=f"image/{task}", family="image", storage_path=tmp_path / "ray", constants=TINY)
    runs = compare(IMAGE, "digits_0to4", searchers=["prior", "hyperopt"], samples=3, seeds=[0], epochs=2,
                   store=store, storage_path=tmp_path / "ray")
    assert list(runs.groupby("searcher").size()) == [3, 3]
    assert runs["best"].between(0, 1).all() and (runs["finished_s"] > 0).all()
    # Each run went into the store outside the family, so it never feeds a later prior.
    recorded = store.trials("compare/image/digits_0to4/prior/seed0")
    assert len(recorded) == 3 and store.get_task("compare/image/digits_0to4/prior/seed0").family is None
    assert set(store.history(family="image")["task"]) == {"image/digits_5to9", "image/digits_0to4"}
    table = best_at_trials(runs, [1, 3])
    assert list(table.index) == ["prior", "hyperopt"] and (table["3 trials"] >= table["1 trials"]).all()


@pytest.mark.integration
def test_a_run_records_into_the_store_and_returns_its_timeline(ray_session: None, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    outcome = tune_task(IMAGE, "digits_0to4", searcher="hyperopt", scheduler="asha", samples=3, epochs=3,
                        store=store, store_task="image/digits_0to4", family="image", storage_path=tmp_path,
                        constants=TINY)
    assert len(outcome.timeline) == 3 and outcome.timeline["best"].is_monotonic_increasing
    assert outcome.best == outcome.timeline["best"].iloc[-1]
    assert outcome.best_config["width"] == 8
    assert len(store.trials("image/digits_0to4")) == 3


def test_summaries_of_a_comparison() -> None:
    runs = pd.DataFrame({
        "searcher": ["prior"] * 3 + ["hyperopt"] * 3,
        "seed": [0] * 6,
        "n": [1, 2, 3] * 2,
        "finished_s": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5],
        "best": [0.8, 0.9, 0.9, 0.5, 0.7, 0.85],
    })
    assert best_at_trials(runs, [1, 3]).loc["hyperopt"].tolist() == [0.5, 0.85]
    at = best_at_seconds(runs, [1.2, 10])
    assert at.loc["prior", "1 s"] == 0.8 and np.isnan(at.loc["hyperopt", "1 s"])
    reach = trials_to_reach(runs, "prior", "hyperopt", "max")
    assert reach.loc[0, "prior trials"] == 2 and reach.loc[0, "ratio"] == pytest.approx(2 / 3)
    assert reach.loc[0, "prior s"] == 2.0 and reach.loc[0, "time ratio"] == pytest.approx(2.0 / 3.5)


@pytest.mark.integration
def test_run_and_demo_commands(ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meta_tune.tuning import _shipped

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    runner = CliRunner()
    args = ["--store", store_url]
    common = ["--epochs", "2", "--concurrency", "2", "--results-dir", str(tmp_path / "ray")]
    result = runner.invoke(cli, [*args, "run", "--task", "digits_5to9", "--searcher", "random", "--samples", "3",
                                 *common])
    assert result.exit_code == 0, result.output
    assert "Best accuracy" in result.output and "meta-tune store show image@e2/digits_5to9" in result.output
    assert "3/3 trials done" in result.output and ", best " in result.output
    # The demo learns its prior from the store's image history (here: a small one made below).
    monkeypatch.setattr(_shipped, "SHIPPED_DIR", tmp_path / "nothing-shipped")
    tune_task(IMAGE, "digits_5to9", searcher="random", scheduler="fifo", samples=3, epochs=2,
              store=Store(store_url), store_task="image/digits_5to9", family="image",
              storage_path=tmp_path / "ray", constants=TINY)
    result = runner.invoke(cli, [*args, "demo", "--task", "digits_0to4", "--samples", "3", "--seeds", "0",
                                 "--out", str(tmp_path / "demo"), *common])
    assert result.exit_code == 0, result.output
    assert "Best accuracy after n trials" in result.output and "hyperopt's final best" in result.output
    assert (tmp_path / "demo" / "comparison.png").stat().st_size > 10_000
    assert len(pd.read_csv(tmp_path / "demo" / "runs.csv")) == 6
    for table in ("best_after_trials", "best_after_seconds", "trials_to_reach"):  # as the README says
        assert (tmp_path / "demo" / f"{table}.csv").exists() and (tmp_path / "demo" / f"{table}.md").exists()
    # Progress over both searchers' runs: the last trial of all is the 6th of 6.
    assert "[run 2/2]" in result.output and "6/6 trials done" in result.output
    result = runner.invoke(cli, [*args, "run", "--task", "no_such_task", *common])
    assert result.exit_code != 0 and "Unknown image task 'no_such_task'" in str(result.exception or result.output)


def test_trainables_command_lists_families_and_tasks() -> None:
    result = CliRunner().invoke(cli, ["trainables"])
    assert result.exit_code == 0, result.output
    assert "image: " in result.output and "fashion_mnist_n2000" in result.output
    assert "metric accuracy (max)" in result.output
    # The text history is shorter than the text family's default trials: the listing says so.
    assert "10 epochs by default; its shipped history 5 (--epochs 5)" in result.output


@pytest.mark.integration
def test_a_short_run_records_apart_and_keeps_one_checkpoint_per_trial(ray_session: None, tmp_path: Path) -> None:
    from meta_tune.tuning._run import CHECKPOINTS_KEPT

    (tmp_path / "exp.yaml").write_text(
        "trainable: {family: image, task: digits_0to4, epochs: 3, constants: {width: 8, blocks: 1}}\n"
        "searcher: random\nscheduler: fifo\nsamples: 2\nconcurrency: 2\n"
        f"storage_path: {tmp_path / 'ray'}\n"
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    snapshots = _Records()  # Ray's warning each time keeping one checkpoint forces a state snapshot
    ray_logger = logging.getLogger("ray.tune.execution.experiment_state")
    ray_logger.addHandler(snapshots)
    try:
        result = CliRunner().invoke(cli, ["--store", url, "run", str(tmp_path / "exp.yaml")])
    finally:
        ray_logger.removeHandler(snapshots)
    assert result.exit_code == 0, result.output
    assert not [m for m in snapshots.messages if "snapshotting has been triggered" in m], snapshots.messages
    # 3 epochs are not the 6 of the image history: the trials go apart, and the user is told where.
    assert ("3 epochs per trial differ from the 6 of the image history: trials are recorded as "
            "image@e3/digits_0to4") in result.output
    store = Store(url)
    assert {(t.name, t.family) for t in store.list_tasks()} == {("image@e3/digits_0to4", "image@e3")}
    assert (store.trials("image@e3/digits_0to4")["training_iteration"] == 3).all()
    # Every epoch saved a checkpoint; only the last one (what resuming needs) is kept.
    folders = [path for path in (tmp_path / "ray" / "image@e3_digits_0to4").iterdir() if path.is_dir()]
    assert len(folders) == 2
    for folder in folders:
        assert len(list(folder.glob("checkpoint_*"))) == CHECKPOINTS_KEPT == 1, sorted(folder.iterdir())
    # A trial needing more CPUs than the running Ray has is refused before it could wait forever.
    result = CliRunner().invoke(cli, ["--store", url, "run", str(tmp_path / "exp.yaml"), "--cpus-per-trial", "3"])
    assert result.exit_code != 0
    assert "resources.cpu (--cpus-per-trial) is 3, but the local Ray has 2 CPU(s)" in str(result.exception)


class _Records(logging.Handler):
    """The messages logged to the loggers it is added to."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
