"""Sources of reports: a store with the shipped image history, a demo folder, a bench folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meta_tune.store import Store
from meta_tune.tuning import load_shipped

#: The shipped task whose trials make up the demo folder's two runs.
DEMO_SOURCE = "image/digits"

#: Trial numbers (1-based, per run) of the demo runs that stop early -> their last step.
STOPPED = {n: 1 if n % 2 else 3 for n in range(3, 16, 3)}


@pytest.fixture(scope="session")
def image_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store holding meta-tune's shipped image history (12 tasks, 30 trials each, curves)."""
    pytest.importorskip("plotly")
    pytest.importorskip("optuna")
    path = tmp_path_factory.mktemp("store") / "store.db"
    store = Store(f"sqlite:///{path}", create=True)
    load_shipped(store, "image")
    return store


@pytest.fixture(scope="session")
def demo_folder(image_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``meta-tune demo`` output: runs.csv, and its runs recorded as ``compare/...`` store tasks.

    The two runs ("prior" and "hyperopt", seed 0) are the first and last 15 trials of the
    shipped ``image/digits`` task, recorded the way the demo records them (same task names,
    space, configs, metrics and curves), and runs.csv has the demo's columns. As under ASHA,
    every third trial stops early: after 1 step, or after 3 (:data:`STOPPED`).
    """
    info = image_store.get_task(DEMO_SOURCE)
    space = info.space
    assert space is not None
    trials = image_store.trials(DEMO_SOURCE)
    curves = image_store.curves(DEMO_SOURCE)
    metric_cols = ["accuracy", "loss", "train_loss", "epoch"]
    rows = []
    for searcher, part in (("prior", trials.iloc[:15]), ("hyperopt", trials.iloc[15:])):
        task = f"compare/image/digits/{searcher}/seed0"
        image_store.create_task(task, metric="accuracy", mode="max", space=space, exist_ok=True)
        finished = 0.0
        best = -np.inf
        for n, (_, shipped) in enumerate(part.iterrows(), start=1):
            trial = shipped.copy()
            config = space.from_flat({p: trial[p] for p in space.names})
            trial_id = f"{searcher}{n:03d}"
            steps = curves[curves["trial_id"] == trial["trial_id"]]
            if n in STOPPED:
                steps = steps[steps["training_iteration"] <= STOPPED[n]]
                trial[metric_cols] = steps.iloc[-1][metric_cols]
                trial["training_iteration"] = STOPPED[n]
            image_store.record_trial(
                task,
                trial_id,
                config=config,
                status="TERMINATED",
                metrics={m: float(trial[m]) for m in metric_cols},
                runtime_s=float(trial["runtime_s"]),
                last_iteration=int(trial["training_iteration"]),
            )
            for _, step in steps.iterrows():
                image_store.record_result(
                    task,
                    trial_id,
                    training_iteration=int(step["training_iteration"]),
                    metrics={m: float(step[m]) for m in metric_cols},
                    time_total_s=float(step["time_total_s"]),
                )
            finished += float(trial["runtime_s"])
            best = max(best, float(trial["accuracy"]))
            rows.append(
                {"trial": trial_id, "finished_s": finished, "epochs": int(trial["training_iteration"]),
                 "accuracy": float(trial["accuracy"]), "status": "TERMINATED", "best": best,
                 "searcher": searcher, "seed": 0, "n": n}
            )  # fmt: skip
    folder = tmp_path_factory.mktemp("meta_tune_demo")
    pd.DataFrame(rows).to_csv(folder / "runs.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def bench_folder(yahpo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``meta-tune bench`` output: two methods (one under ASHA) on two rbv2_rpart tasks."""
    pytest.importorskip("matplotlib")
    from meta_tune.cli import main

    out = tmp_path_factory.mktemp("bench") / "out"
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("MT_CACHE_DIR", str(cache))
    try:
        main(["bench", "--scenario", "rbv2_rpart", "--methods", "random,prior@asha", "--trials", "12",
              "--seeds", "2", "--tasks", "14,24", "--history-trials", "20", "--data-dir", str(yahpo_dir),
              "--out", str(out)])  # fmt: skip
    finally:
        mp.undo()
    return out


#: The objectives of the ``objectives_store`` tasks: two (family "mo"), three ("mo3").
OBJECTIVES = {
    "mo": [("accuracy", "max"), ("time_total_s", "min")],
    "mo3": [("accuracy", "max"), ("time_total_s", "min"), ("loss", "min")],
}


@pytest.fixture(scope="session")
def objectives_store(image_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store of runs tuned for several objectives: shipped image trials, recorded again.

    Family ``mo`` holds ``mo/digits`` and ``mo/digits_0to4`` (accuracy max, time_total_s
    min: the trial's runtime); ``mo3/digits`` adds loss (min). Configs, metrics and runtimes
    are the shipped trials' own.
    """
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('mo') / 'store.db'}", create=True)
    for family, task in (("mo", "digits"), ("mo", "digits_0to4"), ("mo3", "digits")):
        source = f"image/{task}"
        info = image_store.get_task(source)
        assert info.space is not None
        name = f"{family}/{task}"
        store.create_task(name, metric="accuracy", mode="max", family=family, space=info.space)
        store.set_objectives(name, OBJECTIVES[family])
        for _, trial in image_store.trials(source).iterrows():
            store.record_trial(
                name,
                str(trial["trial_id"]),
                config=info.space.from_flat({p: trial[p] for p in info.space.names}),
                status="TERMINATED",
                metrics={m: float(trial[m]) for m in ("accuracy", "loss")},
                runtime_s=float(trial["runtime_s"]),
                last_iteration=int(trial["training_iteration"]),
            )
    return store
