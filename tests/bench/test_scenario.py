"""The YAHPO loader: data lookup, Tune search spaces, surrogate evaluation and curves."""

from __future__ import annotations

import json
import math
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Uniform

from meta_tune.bench import RUNTIME_KEY, Scenario, load_scenario
from meta_tune.errors import InvalidConfigError
from meta_tune.space import SearchSpace, flatten

LCBENCH_CHECK = {
    "batch_size": 64,
    "learning_rate": 0.01,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "num_layers": 2,
    "max_units": 256,
    "max_dropout": 0.1,
}
XGB_TREE = {"eta": 0.1, "gamma": 0.01, "max_depth": 6, "min_child_weight": 5.0,
            "colsample_bytree": 0.8, "colsample_bylevel": 0.7}
XGB_COMMON = {"nrounds": 300, "alpha": 0.01, "lambda": 1.0, "subsample": 0.8,
              "num.impute.selected.cpo": "impute.median"}


@pytest.fixture(scope="module")
def lcbench(yahpo_dir: Path) -> Scenario:
    return load_scenario("lcbench", yahpo_dir)


@pytest.fixture(scope="module")
def xgboost(yahpo_dir: Path) -> Scenario:
    return load_scenario("rbv2_xgboost", yahpo_dir)


def sample(scenario: Scenario, n: int, seed: int = 0) -> list[dict[str, Any]]:
    return SearchSpace.from_tune(scenario.param_space()).sample(np.random.default_rng(seed), n)


# ---------------------------------------------------------------------- the README check
def test_reproduces_the_readme_check_value(lcbench: Scenario) -> None:
    (result,) = lcbench.evaluate("167168", [LCBENCH_CHECK], fidelity={"epoch": 52})
    assert result["val_accuracy"] == pytest.approx(75.515, rel=1e-3)
    assert result["time"] == pytest.approx(111.48, rel=1e-3)
    assert result[RUNTIME_KEY] == result["time"]
    # Maximal fidelity (epoch 52) is the default; an int task id is accepted.
    assert lcbench.evaluate(167168, [LCBENCH_CHECK]) == [result]


def test_matches_a_direct_onnx_call_with_the_readme_encoding(xgboost: Scenario, yahpo_dir: Path) -> None:
    """gblinear: the tree and dart parameters are inactive, so they are 0 in x_cont."""
    import onnxruntime as ort

    config = {**XGB_COMMON, "booster": {"booster": "gblinear"}}
    encoding = json.loads((yahpo_dir / "rbv2_xgboost" / "encoding.json").read_text())
    x_cat = np.array([[encoding["task_id"]["1489"], encoding["booster"]["gblinear"],
                       encoding["num.impute.selected.cpo"]["impute.median"]]], np.int32)
    # nrounds eta gamma lambda alpha subsample max_depth min_child_weight colsample_bytree
    # colsample_bylevel rate_drop skip_drop trainsize repl
    x_cont = np.array([[300, 0, 0, 1.0, 0.01, 0.8, 0, 0, 0, 0, 0, 0, 1.0, 10]], np.float32)
    session = ort.InferenceSession(str(yahpo_dir / "rbv2_xgboost" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0][0]

    (result,) = xgboost.evaluate("1489", [config])
    assert [result[m] for m in xgboost.metrics] == pytest.approx(np.clip(expected, 0, None).tolist(), rel=1e-6)


# ---------------------------------------------------------------------- finding the data
def test_missing_data_dir_says_where_the_data_comes_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from meta_tune.bench import _data_dir

    monkeypatch.delenv("MT_YAHPO_DIR", raising=False)
    monkeypatch.setattr(_data_dir, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidConfigError, match=r"MT_YAHPO_DIR is unset.*yahpo_data.*v1\.0\.2"):
        load_scenario("lcbench")


def test_data_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, yahpo_dir: Path) -> None:
    monkeypatch.setenv("MT_YAHPO_DIR", str(yahpo_dir))
    scenario = load_scenario("lcbench")
    assert scenario.data_dir == yahpo_dir.resolve() / "lcbench"
    assert scenario is load_scenario("lcbench", yahpo_dir)


def test_nonexistent_data_dir(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"does not exist.*MT_YAHPO_DIR"):
        load_scenario("lcbench", tmp_path / "nowhere")


def test_incomplete_data_dir_names_the_missing_file(tmp_path: Path, yahpo_dir: Path) -> None:
    (tmp_path / "lcbench").mkdir()
    shutil.copy(yahpo_dir / "lcbench" / "config_space.json", tmp_path / "lcbench")
    shutil.copy(yahpo_dir / "lcbench" / "encoding.json", tmp_path / "lcbench")
    with pytest.raises(InvalidConfigError, match=r"lcbench/model\.onnx' is missing.*yahpo_data"):
        load_scenario("lcbench", tmp_path)


def test_a_scenario_folder_given_as_data_dir_gets_a_hint(yahpo_dir: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"looks like one scenario's folder; pass its parent"):
        load_scenario("lcbench", yahpo_dir / "lcbench")


def test_wrong_data_is_rejected(tmp_path: Path, yahpo_dir: Path) -> None:
    (tmp_path / "lcbench").mkdir()
    for file in ("config_space.json", "model.onnx"):
        shutil.copy(yahpo_dir / "lcbench" / file, tmp_path / "lcbench")
    (tmp_path / "lcbench" / "encoding.json").write_text(json.dumps({"OpenML_task_id": {"#na#": 0}}))
    with pytest.raises(InvalidConfigError, match=r"encoding\.json' has no integer code for OpenML_task_id"):
        load_scenario("lcbench", tmp_path)


def test_unknown_scenario_lists_the_known_ones(yahpo_dir: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"Unknown YAHPO scenario 'nb301'.*rbv2_xgboost"):
        load_scenario("nb301", yahpo_dir)


# ---------------------------------------------------------------------- description
def test_describes_the_scenarios_as_the_shared_scenarios_json(yahpo_dir: Path) -> None:
    documented = json.loads((yahpo_dir / "scenarios.json").read_text())
    for name, doc in documented.items():
        scenario = load_scenario(name, yahpo_dir)
        assert scenario.tasks == tuple(doc["instances"])
        assert scenario.metrics == tuple(doc["outputs"])
        assert scenario.runtime_metric == doc["runtime_output"]
        assert set(scenario.fidelity_params) == set(doc["fidelity_params"]) - {"repl"}
        for metric, minimize in doc["output_minimize"].items():
            if name.startswith("rbv2_") and metric == "f1":
                continue  # documented correction: F1 is maximized
            assert scenario.mode(metric) == ("min" if minimize else "max"), (name, metric)


def test_modes_ranges_and_fidelities(xgboost: Scenario, lcbench: Scenario) -> None:
    assert xgboost.mode("acc") == "max"
    assert xgboost.mode("f1") == "max"
    assert xgboost.mode("logloss") == "min"
    assert xgboost.metric_range("acc") == (0.0, 1.0)
    assert lcbench.metric_range("val_accuracy") == (0.0, 100.0)
    assert xgboost.max_fidelity == {"trainsize": 1.0}
    assert lcbench.max_fidelity == {"epoch": 52}
    assert xgboost.default_metric == "acc"
    assert len(xgboost.model_sha256) == 64
    with pytest.raises(InvalidConfigError, match=r"Unknown metric 'accuracy'.*'acc'"):
        xgboost.mode("accuracy")


# ---------------------------------------------------------------------- search space
def test_lcbench_space_uses_log_scales_and_inclusive_integer_bounds(lcbench: Scenario) -> None:
    space = lcbench.param_space()
    assert set(space) == {"batch_size", "learning_rate", "momentum", "weight_decay", "num_layers",
                          "max_units", "max_dropout"}
    batch = space["batch_size"]
    assert isinstance(batch, Integer) and isinstance(batch.get_sampler(), LogUniform)
    assert (batch.lower, batch.upper) == (16, 513)  # YAHPO's 512 is inclusive, Tune's upper is not
    layers = space["num_layers"]
    assert isinstance(layers, Integer) and isinstance(layers.get_sampler(), Uniform)
    assert (layers.lower, layers.upper) == (1, 6)
    lr = space["learning_rate"]
    assert isinstance(lr, Float) and isinstance(lr.get_sampler(), LogUniform)
    assert (lr.lower, lr.upper) == (1e-4, 0.1)
    assert isinstance(space["weight_decay"].get_sampler(), Uniform)


def test_xgboost_space_nests_the_booster_dependent_parameters(xgboost: Scenario) -> None:
    space = xgboost.param_space()
    assert set(space) == {"nrounds", "alpha", "lambda", "subsample", "num.impute.selected.cpo", "booster"}
    assert isinstance(space["nrounds"].get_sampler(), LogUniform)
    assert (space["nrounds"].lower, space["nrounds"].upper) == (7, 2982)
    booster = space["booster"]
    assert isinstance(booster, Categorical)
    by_name = {c["booster"]: c for c in booster.categories}
    tree = {"booster", "eta", "gamma", "max_depth", "min_child_weight", "colsample_bytree", "colsample_bylevel"}
    assert set(by_name["gblinear"]) == {"booster"}
    assert set(by_name["gbtree"]) == tree
    assert set(by_name["dart"]) == tree | {"rate_drop", "skip_drop"}
    names = SearchSpace.from_tune(space).names
    assert "booster/eta" in names and "booster/rate_drop" in names
    assert not {"task_id", "trainsize", "repl", "booster/trainsize"} & set(names)


def test_flat_space_holds_every_parameter_once(xgboost: Scenario, lcbench: Scenario) -> None:
    flat = xgboost.param_space(conditional=False)
    assert len(flat) == 14 and isinstance(flat["booster"], Categorical)
    assert flat["booster"].categories == ["gblinear", "gbtree", "dart"]
    assert set(lcbench.param_space(conditional=False)) == set(lcbench.param_space())


@pytest.mark.parametrize("name", ["rbv2_xgboost", "rbv2_rpart", "lcbench", "iaml_glmnet"])
def test_sampled_configs_are_in_range_and_evaluate_in_range(name: str, yahpo_dir: Path) -> None:
    scenario = load_scenario(name, yahpo_dir)
    configs = sample(scenario, 2000, seed=1)
    results = scenario.evaluate(scenario.tasks[0], configs)
    assert len(results) == 2000
    for metric in scenario.metrics:
        values = np.array([r[metric] for r in results])
        lower, upper = scenario.metric_range(metric)
        assert np.all((values >= lower) & (values <= upper)), metric
    assert min(r[RUNTIME_KEY] for r in results) >= 1e-3


def test_configs_from_tune_random_search_evaluate(xgboost: Scenario) -> None:
    from ray.tune.search.variant_generator import generate_variants

    configs = [cfg for _ in range(30) for _, cfg in generate_variants(xgboost.param_space())]
    boosters = {c["booster"]["booster"] for c in configs}
    assert boosters == {"gblinear", "gbtree", "dart"}
    results = xgboost.evaluate("1489", configs)
    assert all(0 <= r["acc"] <= 1 for r in results)


# ---------------------------------------------------------------------- evaluation
def test_a_batch_equals_single_evaluations(xgboost: Scenario) -> None:
    configs = sample(xgboost, 40, seed=2)
    batch = xgboost.evaluate("3", configs)
    for config, expected in zip(configs, batch):
        (single,) = xgboost.evaluate("3", [config])
        assert single == pytest.approx(expected, rel=1e-5)


def test_nested_flattened_and_yahpo_names_are_the_same_config(xgboost: Scenario) -> None:
    nested = {**XGB_COMMON, "booster": {"booster": "dart", **XGB_TREE, "rate_drop": 0.2, "skip_drop": 0.3}}
    flat_yahpo = {**XGB_COMMON, "booster": "dart", **XGB_TREE, "rate_drop": 0.2, "skip_drop": 0.3}
    results = xgboost.evaluate("1489", [nested, flatten(nested), flat_yahpo])
    assert results[0] == results[1] == results[2]


def test_values_of_inactive_parameters_are_ignored(xgboost: Scenario) -> None:
    linear = {**XGB_COMMON, "booster": "gblinear"}
    with_tree_values = {**linear, **XGB_TREE, "rate_drop": 0.9}
    tree = {**XGB_COMMON, "booster": "gbtree", **XGB_TREE, "rate_drop": 0.9}
    results = xgboost.evaluate("1489", [linear, with_tree_values, tree, {**tree, "rate_drop": 0.1}])
    assert results[0] == results[1]
    assert results[2] == results[3]  # rate_drop is active for dart only
    assert results[0] != results[2]


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({**XGB_COMMON, "booster": "gbtree", **{k: v for k, v in XGB_TREE.items() if k != "eta"}},
         r"Config 0 of rbv2_xgboost has no value for 'eta' \(active when booster is in \['dart', 'gbtree'\]\)"),
        ({**XGB_COMMON, "booster": "gbtree", **XGB_TREE, "eta": 3.0},
         r"eta=3\.0; it must be a number in \[0\.000911882, 1\]"),
        ({**XGB_COMMON, "booster": "gbtree", **XGB_TREE, "eta": "fast"}, r"eta='fast'; it must be a number"),
        ({**XGB_COMMON, "booster": "linear"}, r"booster='linear'; the choices are \['gblinear', 'gbtree', 'dart'\]"),
        ({**XGB_COMMON, "booster": "gblinear", "learning_rate": 0.1}, r"unknown parameter\(s\) \['learning_rate'\]"),
        ({**XGB_COMMON, "booster": "gblinear", "trainsize": 0.5}, r"fidelity parameter\(s\) \['trainsize'\].*fidelity="),
        ({**XGB_COMMON, "booster": "gblinear", "task_id": "3"}, r"sets the task id 'task_id'"),
        ({**XGB_COMMON, "booster": {"booster": "gblinear"}, "booster/booster": "gbtree"},
         r"gives parameter 'booster' twice"),
    ],
    ids=["missing-active", "out-of-range", "not-a-number", "unknown-choice", "unknown-key", "fidelity-key",
         "task-key", "duplicate"],
)
def test_invalid_configs_are_rejected_with_the_reason(xgboost: Scenario, config: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        xgboost.evaluate("1489", [config])


def test_the_bad_config_is_named_by_its_index(lcbench: Scenario) -> None:
    configs = [LCBENCH_CHECK, {**LCBENCH_CHECK, "learning_rate": 0.5}]
    with pytest.raises(InvalidConfigError, match=r"Config 1 of lcbench has learning_rate=0\.5.*\[0\.0001, 0\.1\]"):
        lcbench.evaluate("167168", configs)


def test_bounds_are_inclusive(lcbench: Scenario) -> None:
    low = {**LCBENCH_CHECK, "learning_rate": 1e-4, "batch_size": 16, "weight_decay": 1e-5}
    high = {**LCBENCH_CHECK, "learning_rate": 0.1, "batch_size": 512, "max_dropout": 1.0}
    assert len(lcbench.evaluate("167168", [low, high])) == 2


def test_configs_must_be_a_list_and_tasks_must_exist(lcbench: Scenario) -> None:
    with pytest.raises(InvalidConfigError, match=r"configs must be a list of config dicts.*\[config\]"):
        lcbench.evaluate("167168", LCBENCH_CHECK)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"Config 0 is a str, not a dict"):
        lcbench.evaluate("167168", ["lr=0.1"])  # type: ignore[list-item]
    with pytest.raises(InvalidConfigError, match=r"Unknown task '167083' for scenario 'lcbench'"):
        lcbench.evaluate("167083", [LCBENCH_CHECK])  # in encoding.json, not a YAHPO instance
    assert lcbench.evaluate("167168", []) == []


def test_lower_fidelity_is_cheaper(lcbench: Scenario, xgboost: Scenario) -> None:
    (early,) = lcbench.evaluate("167168", [LCBENCH_CHECK], fidelity={"epoch": 5})
    (full,) = lcbench.evaluate("167168", [LCBENCH_CHECK])
    assert early[RUNTIME_KEY] < full[RUNTIME_KEY] / 4
    config = {**XGB_COMMON, "booster": "gbtree", **XGB_TREE}
    (small,) = xgboost.evaluate("1489", [config], fidelity={"trainsize": 0.1})
    (large,) = xgboost.evaluate("1489", [config])
    assert small[RUNTIME_KEY] < large[RUNTIME_KEY]


@pytest.mark.parametrize(
    ("fidelity", "match"),
    [
        ({"epoch": 0}, r"Fidelity epoch=0 of lcbench must be an integer in \[1, 52\]"),
        ({"epoch": 2.5}, r"epoch=2\.5 of lcbench must be an integer"),
        ({"trainsize": 0.5}, r"'trainsize' is not a fidelity parameter of lcbench.*\['epoch'\]"),
        ([("epoch", 3)], r"fidelity must be a dict such as \{'epoch': 52\}"),
    ],
    ids=["too-small", "not-integer", "not-a-fidelity", "not-a-dict"],
)
def test_invalid_fidelities_are_rejected(lcbench: Scenario, fidelity: Any, match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        lcbench.evaluate("167168", [LCBENCH_CHECK], fidelity=fidelity)


def test_repl_is_fixed(xgboost: Scenario) -> None:
    with pytest.raises(InvalidConfigError, match=r"'repl' is not a fidelity parameter.*fixed at 10"):
        xgboost.evaluate("1489", [{**XGB_COMMON, "booster": "gblinear"}], fidelity={"repl": 3})


def test_outputs_are_clipped_to_their_valid_range(xgboost: Scenario) -> None:
    """On task 6 the surrogate predicts a slightly negative balanced accuracy for some configs."""
    configs = sample(xgboost, 500, seed=3)
    x_cat, x_cont = xgboost._encode(configs)
    raw = xgboost._predict(xgboost._task_code("6"), x_cat, x_cont, xgboost._fidelity_columns(None))
    assert raw[:, xgboost.metrics.index("bac")].min() < 0  # the reason for clipping
    results = xgboost.evaluate("6", configs)
    bac = np.array([r["bac"] for r in results])
    assert bac.min() == 0.0
    brier = np.array([r["brier"] for r in results])
    assert brier.max() > 1  # a multiclass Brier score is in [0, 2]; it is not clipped at 1


# ---------------------------------------------------------------------- learning curves
def test_curve_has_every_epoch_and_matches_evaluate(lcbench: Scenario) -> None:
    configs = [LCBENCH_CHECK, *sample(lcbench, 2, seed=4)]
    curve = lcbench.curve("167168", configs)
    assert len(curve) == 3 * 52
    assert list(curve.columns) == ["config", "epoch", *lcbench.metrics, RUNTIME_KEY]
    first = curve[curve["config"] == 0]
    assert first["epoch"].tolist() == list(range(1, 53))
    assert first["val_accuracy"].iloc[-1] == pytest.approx(75.515, rel=1e-3)
    for epoch in (1, 17, 52):
        (expected,) = lcbench.evaluate("167168", [configs[2]], fidelity={"epoch": epoch})
        row = curve[(curve["config"] == 2) & (curve["epoch"] == epoch)].iloc[0]
        assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)
    assert first[RUNTIME_KEY].iloc[-1] > 10 * first[RUNTIME_KEY].iloc[0]  # cumulative time


def test_curve_needs_an_epoch_fidelity(xgboost: Scenario) -> None:
    with pytest.raises(InvalidConfigError, match=r"rbv2_xgboost' has no learning curves.*\('trainsize',\)"):
        xgboost.curve("1489", [{**XGB_COMMON, "booster": "gblinear"}])


# ---------------------------------------------------------------------- plumbing
def test_scenario_pickles_for_ray_workers(lcbench: Scenario) -> None:
    clone = pickle.loads(pickle.dumps(lcbench))
    assert clone.evaluate("167168", [LCBENCH_CHECK]) == lcbench.evaluate("167168", [LCBENCH_CHECK])


def test_param_space_is_fresh_and_tune_readable(lcbench: Scenario) -> None:
    first, second = lcbench.param_space(), lcbench.param_space()
    assert first["learning_rate"] is not second["learning_rate"]
    value = first["learning_rate"].sample()
    assert 1e-4 <= value <= 0.1 and not math.isnan(value)


def test_missing_onnxruntime_names_the_extra(tmp_path: Path, yahpo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meta_tune.errors import MissingDependencyError

    shutil.copytree(yahpo_dir / "iaml_glmnet", tmp_path / "iaml_glmnet")
    scenario = load_scenario("iaml_glmnet", tmp_path)  # reading the files needs no onnxruntime
    assert "s" in scenario.param_space()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'meta-tune\[bench\]'"):
        scenario.evaluate("1067", [{"alpha": 0.5, "s": 1.0}])
