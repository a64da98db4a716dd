"""Several objectives: experiment files and ``meta-tune run`` flags, the store, the printed Pareto set."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from meta_tune import searchers
from meta_tune.errors import InvalidConfigError
from meta_tune.priors import pareto_mask
from meta_tune.store import Store, StoreCallback
from meta_tune.tuning import load_experiment
from tests.tuning.conftest import invoke

BASE = "trainable: {family: image, task: digits_0to4, epochs: 1, constants: {width: 8, blocks: 1}}\n"
TWO = "metric: [accuracy, time_total_s]\nmode: [max, min]\n"


def test_a_file_with_several_metrics_gets_pareto_and_fifo_and_dry_runs_as_it_was_written(tmp_path: Path) -> None:
    (tmp_path / "exp.yaml").write_text(BASE + TWO)
    experiment = load_experiment(tmp_path / "exp.yaml")
    assert experiment.metrics == ["accuracy", "time_total_s"] and experiment.modes == ["max", "min"]
    # Tune's bookkeeping (and everything that reads one metric) gets the first objective.
    assert (experiment.metric, experiment.mode) == ("accuracy", "max")
    assert (experiment.searcher.name, experiment.scheduler.name) == ("pareto", "fifo")
    dumped = yaml.safe_load(experiment.to_yaml())
    assert dumped["metric"] == ["accuracy", "time_total_s"] and dumped["mode"] == ["max", "min"]
    (tmp_path / "again.yaml").write_text(experiment.to_yaml())
    assert load_experiment(tmp_path / "again.yaml").metrics == experiment.metrics
    # One metric in a list is that metric; the single-objective defaults stay.
    one = load_experiment(None, {"trainable.family": "image", "trainable.task": "digits",
                                 "metric": ["loss"], "mode": ["min"]})
    assert (one.metric, one.mode, one.metrics, one.searcher.name, one.scheduler.name) == (
        "loss", "min", ["loss"], "prior", "asha")


def test_run_flags_repeat_for_several_metrics(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, "run", "--task", "digits", "--metric", "accuracy", "--metric", "loss",
                          "--mode", "max", "--mode", "min", "--searcher", "random", "--dry-run")
    assert code == 0, output
    dumped = yaml.safe_load(output)
    assert dumped["metric"] == ["accuracy", "loss"] and dumped["mode"] == ["max", "min"]
    assert dumped["searcher"]["name"] == "random" and dumped["scheduler"]["name"] == "fifo"


@pytest.mark.parametrize(
    ("settings", "flags", "expected"),
    [
        ("metric: [accuracy, loss]\nmode: [max]\n", ["--mode", "max"],
         r"metric lists 2 objective\(s\) \(accuracy, loss\) and mode 1 \(max\): give one mode"),
        ("metric: [accuracy, loss]\n", [], r"metric lists several objectives \(accuracy, loss\): give one mode each"),
        ("metric: [accuracy, loss]\nmode: [max, min]\nsearcher: hyperopt\n", ["--mode", "max", "--mode", "min",
                                                                             "--searcher", "hyperopt"],
         r"Searcher 'hyperopt' tunes one metric, but 2 objectives were given: pick a searcher that takes several "
         r"\(random, pareto\)"),
        ("metric: [accuracy, loss]\nmode: [max, min]\nscheduler: asha\n", ["--mode", "max", "--mode", "min",
                                                                          "--scheduler", "asha"],
         r"scheduler 'asha' stops trials on one metric.*bias the Pareto front: use scheduler fifo"),
    ],
)
def test_bad_objectives_are_refused_before_ray_from_a_file_and_from_flags(
    tmp_path: Path, no_ray: None, settings: str, flags: list[str], expected: str
) -> None:
    (tmp_path / "exp.yaml").write_text(BASE + settings)
    with pytest.raises(InvalidConfigError, match=expected):
        load_experiment(tmp_path / "exp.yaml")
    code, output = invoke(tmp_path, "run", "--task", "digits", "--metric", "accuracy", "--metric", "loss", *flags)
    assert code == 1 and re.search(expected, output), output


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("metric: [accuracy, accuracy]\nmode: [max, max]\n", r"names an objective twice"),
        ("metric: [accuracy, loss]\nmode: [max, lowest]\n", r"'lowest' is not a mode: use min or max"),
        ("mode: [max, min]\n", r"mode lists 2 modes: give their metrics as metric: \[...\] too"),
        ("metric: []\nmode: max\n", r"metric is an empty list"),
    ],
)
def test_malformed_objective_lists_name_what_is_wrong(tmp_path: Path, settings: str, expected: str) -> None:
    (tmp_path / "exp.yaml").write_text(BASE + settings)
    with pytest.raises(InvalidConfigError, match=expected):
        load_experiment(tmp_path / "exp.yaml")


def test_the_registry_builds_multi_objective_searchers_and_refuses_the_others() -> None:
    assert [n for n in searchers.names() if searchers.get(n).multi_objective] == ["random", "pareto"]
    with pytest.raises(InvalidConfigError, match=r"'prior_tpe' tunes one metric.*\(random, pareto\)"):
        searchers.build("prior_tpe", metric=["a", "b"], mode=["max", "min"])
    pareto = searchers.build("pareto", metric=["a", "b"], mode=["max", "min"],
                             history=pd.DataFrame({"task": ["t"], "x": [0.5], "a": [1.0], "b": [2.0]}))
    assert pareto.metrics == ["a", "b"] and pareto.modes == ["max", "min"]  # type: ignore[attr-defined]
    with pytest.raises(InvalidConfigError, match="learns from a prior"):
        searchers.build("pareto", metric=["a", "b"], mode=["max", "min"])


def test_the_store_keeps_every_objective_and_refuses_a_callback_without_a_mode_each(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    StoreCallback(store, task="f/t", metric=["accuracy", "time_total_s"], mode=["max", "min"], family="f")
    info = store.get_task("f/t")
    assert (info.metric, info.mode) == ("accuracy", "max")  # single-objective readers see the first
    assert store.objectives("f/t") == [("accuracy", "max"), ("time_total_s", "min")]
    StoreCallback(store, task="f/one", metric="loss", mode="min")
    assert store.objectives("f/one") == [("loss", "min")]
    with pytest.raises(InvalidConfigError, match=r"give one mode per metric"):
        StoreCallback(store, task="f/u", metric=["accuracy", "loss"], mode="max")
    with pytest.raises(InvalidConfigError, match=r"the first objective is the task's metric"):
        store.set_objectives("f/one", [("accuracy", "max"), ("loss", "min")])
    store.delete_task("f/t")
    store.create_task("f/t", metric="accuracy", mode="max")
    assert store.objectives("f/t") == [("accuracy", "max")]  # deleted with its task


def _printed_front(output: str) -> list[str]:
    """The trial ids of the Pareto set ``meta-tune run`` printed."""
    lines = output.split("Pareto-optimal trial(s)")[1].splitlines()[2:]
    return [line.split()[0] for line in lines if re.match(r"^\s*[0-9a-f]{8}\s", line)]


@pytest.mark.integration
def test_a_two_metric_run_records_both_and_prints_its_pareto_set_then_a_later_run_learns_from_it(
    ray_session: None, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "exp.yaml").write_text(
        BASE + TWO + f"searcher: random\nsamples: 4\nconcurrency: 2\nstorage_path: {tmp_path / 'ray'}\n"
    )
    code, output = invoke(tmp_path, "run", str(tmp_path / "exp.yaml"))
    assert code == 0, output
    store = Store(url)
    assert store.objectives("image@e1/digits_0to4") == [("accuracy", "max"), ("time_total_s", "min")]
    trials = store.trials("image@e1/digits_0to4")
    assert len(trials) == 4 and trials[["accuracy", "runtime_s"]].notna().all().all()
    # The printed set is exactly the non-dominated trials of what the store recorded.
    points = np.column_stack([-trials["accuracy"], trials["runtime_s"]])
    expected = set(trials["trial_id"][pareto_mask(points)])
    printed = _printed_front(output)
    assert printed and set(printed) == expected, output
    assert "Best accuracy" not in output

    # A later run of another task learns its Pareto portfolio from that history: its first trial
    # is a config of the earlier run (the portfolio's candidates are the history's configs).
    (tmp_path / "next.yaml").write_text(
        BASE.replace("digits_0to4", "digits_5to9") + TWO
        + f"searcher: pareto\nprior: {{family: image@e1}}\nsamples: 2\nconcurrency: 1\n"
        f"storage_path: {tmp_path / 'ray'}\n"
    )
    code, output = invoke(tmp_path, "run", str(tmp_path / "next.yaml"))
    assert code == 0, output
    params = ["model", "lr", "batch_size", "optimizer", "dropout"]
    later = store.trials("image@e1/digits_5to9")
    first = later.iloc[0][params].tolist()
    assert first in trials[params].values.tolist()
    assert len(_printed_front(output)) >= 1


def test_a_store_of_an_older_meta_tune_reads_as_one_objective_per_task(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    Store(f"sqlite:///{path}").create_task("f/t", metric="accuracy", mode="max")
    with sqlite3.connect(path) as connection:  # as written before the table existed
        connection.execute("DROP TABLE task_objectives")
    assert Store(f"sqlite:///{path}", read_only=True).objectives("f/t") == [("accuracy", "max")]


def test_pareto_without_a_history_of_every_objective_is_refused_before_any_trial(tmp_path: Path) -> None:
    from meta_tune.tuning import run_experiment

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    (tmp_path / "exp.yaml").write_text(
        BASE + TWO + f"prior: {{family: nobody-ran-this}}\nstorage_path: {tmp_path / 'ray'}\n"
    )
    experiment = load_experiment(tmp_path / "exp.yaml")
    with pytest.raises(InvalidConfigError, match=r"learns a Pareto portfolio.*none in family 'nobody-ran-this'.*"
                                                 r"searcher 'random' and the same metrics"):
        run_experiment(experiment, store=store)
    # A family whose trials never reported the second objective: the message names it.
    store.create_task("other/t", metric="accuracy", mode="max", family="other")
    store.record_trial("other/t", "a", config={"lr": 0.1}, status="TERMINATED", metrics={"accuracy": 0.5})
    (tmp_path / "exp.yaml").write_text(
        BASE + "metric: [accuracy, memory_mb]\nmode: [max, min]\n"
        + f"prior: {{family: other}}\nstorage_path: {tmp_path / 'ray'}\n"
    )
    with pytest.raises(InvalidConfigError, match=r"no trial of family 'other'.*reports every objective "
                                                 r"\(accuracy, memory_mb; none has memory_mb\)"):
        run_experiment(load_experiment(tmp_path / "exp.yaml"), store=store)


def _two_objectives(config: dict[str, Any]) -> None:
    from ray import tune

    tune.report({"score": 1.0 - (config["x"] - 0.3) ** 2, "size": config["x"]})


@pytest.mark.integration
def test_a_plain_tuner_with_a_multi_objective_searcher_records_every_objective(
    ray_session: None, tmp_path: Path
) -> None:
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    from meta_tune.searchers import ParetoSearcher

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    searcher = ParetoSearcher(metric=["score", "size"], mode=["max", "min"], seed=0)
    tune.Tuner(
        _two_objectives,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            metric="score", mode="max", num_samples=2, search_alg=ConcurrencyLimiter(searcher, 1),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray"), verbose=0,
                                  callbacks=[StoreCallback(store, task="toy/t", family="toy")]),
    ).fit()
    # Nothing was passed to the callback: the objectives were read off the search algorithm.
    assert store.objectives("toy/t") == [("score", "max"), ("size", "min")]
    assert store.trials("toy/t")[["score", "size"]].notna().all().all()


INTERRUPTING_TRAINABLE = '''
import os
import signal
import time
from pathlib import Path

from ray import tune


def train(config):
    started = Path(config["marks"])
    for step in range(2):
        time.sleep(0.2)
        tune.report({"score": 1.0 - (config["x"] - 0.3) ** 2, "size": config["x"] + step})
        if step == 0:  # a trial counts once it has reported (the store has it), not when it starts
            (started / os.urandom(4).hex()).touch()
    if len(list(started.iterdir())) >= 3:
        try:  # once three trials have reported, the first to end its reports interrupts the run (Ctrl-C)
            (started.parent / "interrupted").mkdir()
        except FileExistsError:
            return
        os.kill(config["driver"], signal.SIGINT)
        time.sleep(1)
'''


@pytest.mark.integration
def test_an_interrupted_two_metric_run_resumes_with_its_searcher_and_records_each_trial_once(
    ray_session: None, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.create_task("toy/old", metric="score", mode="max", family="toy")
    for i, x in enumerate(np.linspace(0.05, 0.95, 6)):
        store.record_trial("toy/old", f"o{i}", config={"x": float(x)}, status="TERMINATED",
                           metrics={"score": 1.0 - (x - 0.3) ** 2, "size": float(x) + 1})
    (tmp_path / "mo.py").write_text(INTERRUPTING_TRAINABLE)
    (tmp_path / "marks").mkdir()
    (tmp_path / "exp.yaml").write_text(
        "name: resumable\n"
        "trainable: {function: mo.py:train, family: toy, task: t, "
        f"space: {{x: {{uniform: [0, 1]}}, driver: {os.getpid()}, marks: '{tmp_path / 'marks'}'}}}}\n"
        "metric: [score, size]\nmode: [max, min]\nsearcher: pareto\nprior: {family: toy}\n"
        f"samples: 6\nconcurrency: 2\nstorage_path: {tmp_path / 'ray'}\n"
    )
    _, output = invoke(tmp_path, "run", str(tmp_path / "exp.yaml"))  # interrupted by its third trial
    assert (tmp_path / "interrupted").exists(), output
    before = store.trials("toy/t")
    assert 3 <= len(before) < 6, output
    code, output = invoke(tmp_path, "run", str(tmp_path / "exp.yaml"), "--resume")
    assert code == 0, output
    assert "Resumed" in output, output
    assert store.objectives("toy/t") == [("score", "max"), ("size", "min")]
    trials = store.trials("toy/t")
    assert len(trials) == 6 and trials["trial_id"].is_unique, trials
    assert set(trials["status"]) == {"TERMINATED"}
    assert trials[["score", "size"]].notna().all().all()
    curves = store.curves("toy/t")
    assert curves.groupby("trial_id")["training_iteration"].apply(list).tolist() == [[1, 2]] * 6
    # The searcher resumed from the state Tune saved at the interruption: the resumed run's
    # state (a later session's file) goes on from it, and was told each trial's two objectives once.
    folder = tmp_path / "ray" / "resumable"
    interrupted, resumed = (json.loads(p.read_text())["state"] for p in sorted(folder.glob("searcher-state-*")))
    assert resumed["observations"][: len(interrupted["observations"])] == interrupted["observations"]
    assert len(resumed["observations"]) == 6  # a searcher started afresh would miss the earlier trials
    ops = resumed["extra"]["ops"]
    assert ops[: len(interrupted["extra"]["ops"])] == interrupted["extra"]["ops"]
    told = [op for op in ops if op[0] == "tell"]
    assert len(told) == 6 and len({op[1] for op in told}) == 6 and all(len(op[2]) == 2 for op in told)
