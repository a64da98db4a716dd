"""Hyperparameter importance: per task, across a family, and ``meta-tune importance``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray import tune

from meta_tune.cli import main
from meta_tune.errors import InvalidConfigError, StoreError
from meta_tune.store import Store

pytest.importorskip("optuna")

from meta_tune.report import importance, summarize_importance, trials_importance

SPACE = {"a": tune.uniform(0.0, 1.0), "b": tune.uniform(0.0, 1.0), "c": tune.choice(["x", "y", "z"])}


def _trials(seed: int, n: int = 60) -> pd.DataFrame:
    """Trials whose loss depends almost only on ``a`` (minimum at 0.3)."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    c = rng.choice(["x", "y", "z"], size=n)
    loss = 10 * (a - 0.3) ** 2 + 0.05 * b + rng.normal(0, 0.01, size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "loss": loss})


@pytest.mark.parametrize("evaluator", ["fanova", "pedanova"])
def test_the_parameter_that_drives_the_metric_comes_first(evaluator: str) -> None:
    scores = trials_importance(_trials(0), ["a", "b", "c"], metric="loss", mode="min", evaluator=evaluator)
    assert scores.index[0] == "a"
    assert scores["a"] > 0.5
    assert scores.sum() == pytest.approx(1.0)


def test_too_few_trials_give_no_importance_and_a_bad_evaluator_is_named() -> None:
    assert trials_importance(_trials(0, n=3), ["a", "b"], metric="loss", mode="min").empty
    with pytest.raises(InvalidConfigError, match="evaluator must be one of fanova, pedanova; got 'shap'"):
        trials_importance(_trials(0), ["a"], metric="loss", mode="min", evaluator="shap")


@pytest.fixture
def synthetic_store(tmp_path: Path) -> Store:
    """Family ``syn``: three tasks whose loss depends on ``a``, recorded through the store API."""
    store = Store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    for k in range(3):
        task = f"syn/t{k}"
        store.create_task(task, metric="loss", mode="min", family="syn", space=SPACE)
        for i, row in _trials(k, n=40).iterrows():
            store.record_trial(task, f"{k}-{i}", config={"a": row["a"], "b": row["b"], "c": row["c"]},
                               status="TERMINATED", metrics={"loss": row["loss"]}, runtime_s=1.0)  # fmt: skip
    return store


def test_importance_across_a_family_finds_the_parameter_that_matters_everywhere(
    synthetic_store: Store,
) -> None:
    per_task = importance(synthetic_store, family="syn")
    assert set(per_task["task"]) == {"syn/t0", "syn/t1", "syn/t2"}
    assert per_task.groupby("task")["importance"].sum().to_numpy() == pytest.approx(np.ones(3))
    assert (per_task[per_task["param"] == "a"]["rank"] == 1).all()
    summary = summarize_importance(per_task)
    assert summary.iloc[0]["param"] == "a"
    assert summary.iloc[0]["top_k_share"] == 1.0
    assert summary.iloc[0]["q25"] > summary.iloc[1]["q75"]  # its spread is well clear of the rest


def test_importance_of_the_shipped_image_family(image_store: Store) -> None:
    per_task = importance(image_store, family="image", evaluator="pedanova")
    assert per_task["task"].nunique() == 12
    assert (per_task["trials"] == 30).all()
    summary = summarize_importance(per_task)
    # Each task has 3 top parameters (ties aside), so the shares add up to about 3.
    assert summary["top_k_share"].sum() == pytest.approx(3.0, abs=0.5)
    assert set(summary["param"]) <= set(image_store.get_task("image/digits").space.names)  # type: ignore[union-attr]


def test_importance_needs_one_of_task_and_family(synthetic_store: Store) -> None:
    with pytest.raises(InvalidConfigError, match="exactly one of task= and family="):
        importance(synthetic_store)
    with pytest.raises(InvalidConfigError, match="no tasks of family 'nope'"):
        importance(synthetic_store, family="nope")
    with pytest.raises(StoreError, match="nope"):
        importance(synthetic_store, task="syn/nope")


def test_the_cli_prints_a_table(synthetic_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--store", synthetic_store.url, "importance", "--family", "syn"])
    out = capsys.readouterr().out
    assert "fANOVA importance on the 3 tasks of syn" in out
    header, first = out.splitlines()[1:3]
    assert header.split()[:3] == ["param", "tasks", "top_k_share"]
    assert first.split()[:3] == ["a", "3", "1"]
    main(["--store", synthetic_store.url, "importance", "--task", "syn/t0", "--evaluator", "pedanova"])
    out = capsys.readouterr().out
    assert "PED-ANOVA importance on syn/t0 (40 trials" in out
    assert out.splitlines()[2].split()[0] == "a"


def test_the_cli_explains_bad_input(synthetic_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--store", synthetic_store.url, "importance"])
    assert exit_info.value.code == 2
    assert "give exactly one of --task and --family" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--store", synthetic_store.url, "importance", "--task", "syn/nope"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "syn/nope" in err and len(err.strip().splitlines()) == 1


def test_a_top_k_space_searches_the_top_k_and_fixes_the_rest() -> None:
    from meta_tune.report import top_k_space
    from meta_tune.space import SearchSpace

    shrunk = top_k_space(SPACE, ["c", "a", "b"], 2, {"a": 0.3, "b": 0.7, "c": "y"})
    configs = SearchSpace.from_tune(shrunk).sample(np.random.default_rng(0), 50)
    assert {c["b"] for c in configs} == {0.7}
    assert len({c["a"] for c in configs}) == 50 and {c["c"] for c in configs} == {"x", "y", "z"}
    with pytest.raises(InvalidConfigError, match="No fixed value for b"):
        top_k_space(SPACE, ["a"], 1, {"c": "x"})
    with pytest.raises(InvalidConfigError, match="needs a flat param_space; model are nested"):
        top_k_space({"model": {"lr": tune.uniform(0, 1)}}, ["model/lr"], 1, {})


def test_the_top_k_experiment_runs_every_variant_on_the_meta_test_tasks(yahpo_dir: Path) -> None:
    from meta_tune.bench import meta_split
    from meta_tune.report import top_k_experiment

    runs, ranking = top_k_experiment("iaml_glmnet", ks=(1,), budgets=(1, 5, 20), seeds=2, history_trials=30,
                                     evaluator="pedanova", data_dir=yahpo_dir)  # fmt: skip
    assert set(ranking["param"]) == {"alpha", "s"}
    assert set(runs["variant"]) == {"full", "top1", "full+best first"}
    assert set(runs["task"]) == set(meta_split("iaml_glmnet").test)
    assert runs["regret"].between(0, 1).all()
    by_run = runs.sort_values("budget").groupby(["variant", "task", "seed"])["regret"]
    assert (by_run.diff().dropna() <= 0).all()  # the best so far never gets worse
