"""The tabular trainable: real Tune runs of every model, exact resume, cross-validation, user CSVs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from ray import tune

from meta_tune.cli._main import cli
from meta_tune.errors import InvalidConfigError
from meta_tune.trainables import get
from meta_tune.trainables.tabular import SPEC, TabularJob, load_task, search_space
from tests.trainables._resume import PauseOnce, assert_resumed_exactly, curve, fit

pytest.importorskip("xgboost")

METRICS = ("accuracy", "f1", "log_loss")
# One fixed, quick config per model (nested, as the family's default space gives them).
CONFIGS = {
    "xgboost": {"eta": 0.3, "max_depth": 3, "subsample": 1.0, "colsample_bytree": 1.0, "colsample_bylevel": 1.0,
                "lambda": 1.0, "alpha": 0.01, "min_child_weight": 3.0, "gamma": 0.01, "num_boost_round": 40},
    "decision_tree": {"ccp_alpha": 0.002, "max_depth": 6, "min_samples_split": 4, "min_samples_leaf": 2},
    "random_forest": {"n_estimators": 20, "max_features": 0.5, "max_depth": 8, "min_samples_split": 2,
                      "min_samples_leaf": 1},
    "mlp": {"lr": 0.05, "batch_size": 32, "momentum": 0.9, "weight_decay": 1e-4, "num_layers": 2,
            "max_units": 64, "max_dropout": 0.1},
}


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    """Train in-process on one thread, as a 1-CPU Tune trial does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _job(model: str, task: str = "breast_cancer", **settings: Any) -> TabularJob:
    return TabularJob({"model": model, **CONFIGS[model], "task": task, "epochs": 4, "seed": 0, **settings})


def _run(job: TabularJob) -> list[dict[str, float]]:
    return [job.train_epoch(e) for e in range(job.reports)]


@pytest.mark.integration
def test_tune_runs_every_model_and_reports_each_epoch(ray_session: None, tmp_path: Path) -> None:
    space = {"model": tune.grid_search([{"name": m, **c} for m, c in CONFIGS.items()]),
             "task": "wine", "epochs": 3, "seed": 0}
    results = fit(SPEC.trainable, space, tmp_path, "models", metric="accuracy")
    assert len(results) == 4 and not results.errors
    for result in results:
        rows = curve(result, METRICS)
        assert [r[0] for r in rows] == [1, 2, 3]
        accuracy, f1, log_loss = rows[-1][1:]
        name = result.config["model"]["name"]
        # wine's three classes: every model does far better than chance (0.4)
        assert accuracy > 0.8 and 0.7 < f1 <= 1, (name, rows)
        # A single tree's pure leaves are sure of every answer, so its rare errors cost a lot.
        assert 0 < log_loss < (40 if name == "decision_tree" else 1.0), (name, rows)


@pytest.mark.integration
def test_a_paused_xgboost_trial_resumes_exactly(ray_session: None, tmp_path: Path) -> None:
    space = {"model": "xgboost", **CONFIGS["xgboost"], "task": "digits", "epochs": 4, "seed": 0}
    straight = _run(TabularJob(dict(space)))
    resumed = fit(SPEC.trainable, space, tmp_path, "pause", metric="accuracy", scheduler=PauseOnce(at=2))[0]
    expected = [(i + 1, *(round(r[m], 6) for m in METRICS)) for i, r in enumerate(straight)]
    assert_resumed_exactly(curve(resumed, METRICS), expected, resumed.metrics_dataframe)


@pytest.mark.parametrize("model", ["xgboost", "decision_tree", "random_forest", "mlp"])
def test_a_job_restored_from_its_state_continues_exactly(model: str) -> None:
    straight = _run(_job(model))
    first = _job(model)
    first.train_epoch(0)
    first.train_epoch(1)
    state = first.state_dict()
    restored = _job(model)
    restored.load_state_dict(state)
    assert [restored.train_epoch(e) for e in (2, 3)] == straight[2:]


def test_xgboost_with_row_or_column_sampling_resumes_from_its_saved_rounds() -> None:
    sampled = {"subsample": 0.8, "colsample_bytree": 0.8}
    straight = _run(_job("xgboost", **sampled))
    first = _job("xgboost", **sampled)
    first.train_epoch(0)
    first.train_epoch(1)
    restored = _job("xgboost", **sampled)
    restored.load_state_dict(first.state_dict())
    after = restored.train_epoch(2)
    # It continues from round 20 (not from scratch); the new rounds draw new samples.
    assert after["rounds_trained"] == straight[2]["rounds_trained"] == 30
    assert abs(after["accuracy"] - straight[2]["accuracy"]) < 0.05


def test_xgboost_stops_early_on_the_validation_loss() -> None:
    job = _job("xgboost", num_boost_round=1000, eta=1.0, early_stopping_rounds=5)
    last = _run(job)[-1]
    assert last["rounds_trained"] < 1000
    assert last["rounds_trained"] - last["rounds"] == 5  # it stopped 5 rounds after the best one


def test_cross_validation_reports_one_fold_at_a_time_and_averages_them() -> None:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    folds = _run(_job("decision_tree", cv=3))
    assert [r["folds"] for r in folds] == [1.0, 2.0, 3.0]
    data = load_task("breast_cancer")
    expected = cross_val_score(DecisionTreeClassifier(random_state=0, **CONFIGS["decision_tree"]), data.x, data.y,
                               cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="accuracy")
    assert folds[0]["accuracy"] == pytest.approx(expected[0])
    assert folds[-1]["accuracy"] == pytest.approx(expected.mean())


def test_same_seed_same_run_other_seed_another() -> None:
    assert _run(_job("mlp")) == _run(_job("mlp"))
    assert _run(_job("mlp")) != _run(_job("mlp", seed=1))


def test_a_users_csv_trains_with_text_columns_and_empty_cells(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["size,colour,weight,label"]
    for i in range(120):
        label = i % 2
        size = rng.normal(3 * label, 1.0)
        weight = "" if i % 10 == 0 else f"{rng.normal(label, 1.0):.3f}"
        rows.append(f"{size:.3f},{'red' if label else 'blue'},{weight},{'yes' if label else 'no'}")
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    data = load_task(str(path))
    assert data.num_classes == 2 and data.x.shape == (120, 4)  # size, weight, colour_blue, colour_red
    assert np.isnan(data.x).sum() == 12
    for model in ("xgboost", "mlp", "random_forest"):
        assert _run(_job(model, task=str(path)))[-1]["accuracy"] > 0.9


def test_bad_input_is_explained(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"Unknown tabular task 'nope'.*iris"):
        load_task("nope")
    with pytest.raises(InvalidConfigError, match=r"cv=100 folds do not fit task 'iris'.*2 <= cv <= 50"):
        _job("decision_tree", task="iris", cv=100)
    with pytest.raises(InvalidConfigError, match="Unknown tabular model 'svm'"):
        TabularJob({"model": "svm", "task": "iris"})
    with pytest.raises(InvalidConfigError, match="needs the config key 'num_boost_round'"):
        TabularJob({"model": "xgboost", "task": "iris", "eta": 0.1})
    one_class = tmp_path / "one.csv"
    one_class.write_text("a,label\n1,x\n2,x\n")
    with pytest.raises(InvalidConfigError, match="two classes"):
        load_task(str(one_class))


def test_registry_serves_the_family_and_its_spaces_use_the_shipped_priors_names() -> None:
    spec = get("tabular")
    assert spec.metric == "accuracy" and spec.mode == "max"
    assert set(spec.tasks) >= {"iris", "wine", "breast_cancer", "digits"}
    space = spec.param_space("digits")
    assert space["task"] == "digits" and "model" in space
    from meta_tune.priors._shipped import MODELS

    for name in ("xgboost", "decision_tree", "mlp"):
        assert {p.name for p in MODELS[name].params} <= set(search_space(name))


@pytest.mark.integration
def test_meta_tune_run_tunes_the_tabular_family(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--store", f"sqlite:///{tmp_path / 'store.db'}", "run", "--trainable",
                                      "tabular", "--task", "iris", "--searcher", "random", "--samples", "2",
                                      "--epochs", "1", "--results-dir", str(tmp_path / "ray")])
    assert result.exit_code == 0, result.output + str(result.exception)
    assert "accuracy" in result.output
