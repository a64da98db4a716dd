"""Shipped priors: loaded by name, refitted for a user's space and names, rebuilt from YAHPO."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from ray import tune

from meta_tune.cli._main import cli
from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.priors import shipped
from meta_tune.priors._shipped import DATA_DIR, MODELS, build, history
from meta_tune.space import SearchSpace


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refits are cached in the test's folder, never in the user's cache."""
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", ["xgboost", "decision_tree", "mlp"])
def test_each_shipped_prior_loads_by_name_in_library_terms_with_a_cost_model(name: str) -> None:
    prior = shipped(name)
    assert (prior.metric, prior.mode) == ("accuracy", "max")
    space = SearchSpace.from_tune(MODELS[name].space())
    assert sorted(prior.space.names) == sorted(p.name for p in MODELS[name].params)
    for config in prior.portfolio:
        assert space.check(config) is None, config
    assert prior.cost_model is not None
    assert prior.expected_cost(prior.portfolio[0]) > 0
    assert len(prior.task_names) >= 30


def test_the_shipped_files_are_small() -> None:
    total = sum(f.stat().st_size for f in DATA_DIR.iterdir())
    assert total < 4e6


def test_a_shipped_prior_prefers_what_worked_on_yahpo() -> None:
    # Small cost-complexity pruning wins on most of rpart's 117 tasks: the prior's median
    # ccp_alpha is far below the log-uniform median of its range (0.03).
    samples = pd.DataFrame(shipped("decision_tree").sample(1000, np.random.default_rng(0)))
    assert samples["ccp_alpha"].median() < 0.01
    uniform_median = math.exp((math.log(MODELS["decision_tree"].param("cp").lower) + math.log(1.0)) / 2)
    assert uniform_median > 0.02


def test_the_users_space_and_names_decide_the_prior() -> None:
    space = {
        "learning_rate": tune.loguniform(0.01, 0.3),
        "max_depth": tune.randint(2, 10),
        "n_estimators": tune.choice([50, 200, 800]),
        "booster": "gbtree",
    }
    prior = shipped("xgboost", space=space, names={"learning_rate": "learning_rate", "n_estimators": "n_estimators"})
    assert sorted(prior.space.names) == ["learning_rate", "max_depth", "n_estimators"]
    for config in prior.portfolio:
        assert 0.01 <= config["learning_rate"] <= 0.3
        assert 2 <= config["max_depth"] <= 9
        assert config["n_estimators"] in (50, 200, 800)
    # Only trials inside the user's bounds count: the narrower space keeps fewer of them.
    assert sum(len(t.loss) for t in prior.tasks) < len(history("xgboost"))


def test_exclude_leaves_a_task_out() -> None:
    prior = shipped("decision_tree", exclude=["1510", "rbv2_rpart/28"])
    assert len(prior.task_names) == 115
    assert not {"rbv2_rpart/1510", "rbv2_rpart/28"} & set(prior.task_names)
    with pytest.raises(InvalidConfigError, match=r"has no task \['rbv2_rpart/61'\]"):
        shipped("decision_tree", exclude=["61"])


def test_a_space_without_shared_parameters_says_so() -> None:
    with pytest.raises(IncompatibleSearchSpaceError, match=r"shares no parameter.*names=\{library name"):
        shipped("xgboost", space={"lr": tune.loguniform(1e-3, 1.0)})
    with pytest.raises(IncompatibleSearchSpaceError, match="No trial of the shipped xgboost history lies inside"):
        shipped("xgboost", space={"eta": tune.loguniform(2.0, 3.0)})


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(InvalidConfigError, match=r"No shipped prior is called 'lightgbm'.*xgboost"):
        shipped("lightgbm")
    with pytest.raises(InvalidConfigError, match=r"has no parameter 'depth'.*max_depth"):
        shipped("xgboost", space={"depth": tune.randint(1, 5)}, names={"depth": "depth"})


def test_cli_lists_and_shows_the_shipped_priors() -> None:
    listing = CliRunner().invoke(cli, ["priors"])
    assert listing.exit_code == 0, listing.output
    for name in MODELS:
        assert name in listing.output
    assert "Apache-2.0" in listing.output
    shown = CliRunner().invoke(cli, ["priors", "show", "decision_tree"])
    assert shown.exit_code == 0, shown.output
    assert "ccp_alpha" in shown.output and "approximate" in shown.output


@pytest.mark.slow
def test_build_regenerates_the_shipped_history(yahpo_dir: Path, tmp_path: Path) -> None:
    build(yahpo_dir, tmp_path, models=["mlp"])
    rebuilt = pd.read_parquet(tmp_path / "mlp.parquet")
    pd.testing.assert_frame_equal(rebuilt, history("mlp"))
    assert shipped("mlp", data_dir=tmp_path).portfolio == shipped("mlp").portfolio
