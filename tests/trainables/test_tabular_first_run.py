"""The tabular family's first run: prior searchers learn from the shipped priors, then from the user's runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from meta_tune.cli._main import cli
from meta_tune.errors import InvalidConfigError
from meta_tune.space import SearchSpace
from meta_tune.store import Store
from meta_tune.trainables import get
from meta_tune.trainables.tabular import search_space
from meta_tune.tuning._searchers import tabular_prior

pytest.importorskip("xgboost")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.integration
def test_a_first_tabular_run_learns_from_the_shipped_priors_then_from_the_users_runs(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    result = CliRunner().invoke(cli, [
        "--store", store_url, "run", "--trainable", "tabular", "--task", "iris", "--searcher", "prior",
        "--samples", "2", "--epochs", "1", "--concurrency", "1", "--results-dir", str(tmp_path / "ray"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    store = Store(store_url)
    trials = store.trials("tabular@e1/iris")
    assert len(trials) == 2 and (trials["status"] == "TERMINATED").all()
    # The searcher's first config is the shipped priors' first portfolio config for the
    # family's space (a cache hit now: the run fitted it).
    space = get("tabular").param_space("iris", epochs=1)
    prior = tabular_prior(space, history=None, metric="accuracy", mode="max")
    assert {t.split("/")[0] for t in prior.task_names} == {"rbv2_xgboost", "rbv2_rpart", "lcbench"}
    first = SearchSpace.from_tune(space).flatten(prior.portfolio[0])
    model = {k: v for k, v in first.items() if k.startswith("model/")}
    recorded = [{k: row[k] for k in model} for row in trials.to_dict("records")]
    assert model in recorded, (model, recorded)
    # Once the store holds the user's tabular runs (--epochs 1: family tabular@e1), the next
    # task's prior learns from both.
    other = get("tabular").param_space("wine", epochs=1)
    combined = tabular_prior(other, history=store.history(family="tabular@e1"), metric="accuracy", mode="max")
    assert "tabular@e1/iris" in combined.task_names
    assert len(combined.task_names) == len(prior.task_names) + 1


def test_a_tabular_model_without_a_shipped_prior_says_what_to_do() -> None:
    space = {**search_space("random_forest"), "task": "iris", "epochs": 1, "seed": 0}
    with pytest.raises(InvalidConfigError, match=r"\['random_forest'\] have no shipped prior.*--searcher random"):
        tabular_prior(space, history=None, metric="accuracy", mode="max", store_url="sqlite:///x.db")


def test_a_tabular_run_of_another_metric_says_the_shipped_priors_learned_accuracy() -> None:
    space = {**search_space("xgboost"), "task": "iris", "epochs": 1, "seed": 0}
    with pytest.raises(InvalidConfigError, match=r"learned 'accuracy' \(maximized\).*tunes 'log_loss'"):
        tabular_prior(space, history=None, metric="log_loss", mode="min")


def test_one_models_flat_space_learns_from_its_shipped_prior_only() -> None:
    space = {**search_space("decision_tree"), "task": "iris", "epochs": 1, "seed": 0}
    prior = tabular_prior(space, history=None, metric="accuracy", mode="max")
    assert {t.split("/")[0] for t in prior.task_names} == {"rbv2_rpart"}
    flat = SearchSpace.from_tune(space)
    for config in prior.portfolio:
        assert flat.check(config) is None and config["model"] == "decision_tree"


def test_the_family_prior_says_once_that_random_forest_is_searched_uniformly(
    recwarn: pytest.WarningsRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    space = get("tabular").param_space("iris", epochs=1)
    with caplog.at_level("INFO", logger="meta_tune.tuning._searchers"):
        tabular_prior(space, history=None, metric="accuracy", mode="max", cache=False)  # a real fit
    assert [str(w.message) for w in recwarn if issubclass(w.category, UserWarning)] == []
    said = [r.getMessage() for r in caplog.records if "random_forest" in r.getMessage()]
    assert said == [
        "No shipped prior for the tabular model(s) ['random_forest']: their parameters "
        "['model/max_features', 'model/n_estimators'] are searched uniformly."
    ]
