"""The examples in examples/ run as the README says."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from meta_tune.store import Store
from tests.conftest import REPO_ROOT


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
@pytest.mark.slow
def test_prior_searcher_example_learns_from_related_tasks(ray_session: None, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    best = load("prior_searcher").main(url, trials=4)
    assert best > 0.9
    tasks = [t.name for t in Store(url).list_tasks(family="sgd-digits")]
    assert tasks == ["sgd/digits[3, 8]", "sgd/digits[4, 9]", "sgd/digits[1, 7]", "sgd/digits[5, 6]"]
    assert len(Store(url).trials("sgd/digits[5, 6]")) == 4


def test_curve_calibration_example_reports_calibrated_intervals(yahpo_dir: Path) -> None:
    table = load("curve_calibration").main(str(yahpo_dir))
    assert table["coverage"].between(0.7, 0.97).all(), table
    assert table["width"].is_monotonic_decreasing
    # Learning from related tasks beats the history-free power law at every prefix length.
    assert (table["mae"] <= table["mae_parametric"]).all()


def test_scale_example_prints_a_table_per_part(yahpo_dir: Path, tmp_path: Path) -> None:
    scale = load("scale")
    tables = scale.main(
        [
            "--yahpo-dir", str(yahpo_dir), "--csv-dir", str(tmp_path), "--no-postgres",
            "--searchers", "PriorSearcher,HyperOptSearch,random", "--prior-tasks", "8",
            "--trials", "120", "--in-flight", "8", "--cap-s", "120",
            "--sizes", "4x20", "--drivers", "2", "--trials-per-driver", "3", "--results-per-trial", "2",
        ]
    )  # fmt: skip
    assert sorted(tables) == ["fit", "searchers", "store"]
    assert {p.name for p in tmp_path.iterdir()} == {"fit.csv", "searchers.csv", "store.csv"}

    searchers = tables["searchers"]
    assert list(zip(searchers["searcher"], searchers["trials_done"])) == [
        (name, n) for name in ("PriorSearcher", "HyperOptSearch", "random") for n in (100, 120)
    ]
    assert (searchers["measured"] == "yes").all()
    timed = ["suggest_median_ms", "suggest_p99_ms", "complete_median_ms", "searcher_s"]
    assert (searchers[timed] > 0).all().all(), searchers
    assert (searchers.loc[searchers["searcher"] == "HyperOptSearch", "vs_HyperOptSearch"] == 1).all()

    fit = tables["fit"]
    assert fit[["tasks", "trials_per_task", "status"]].values.tolist() == [[4, 20, "ok"]]
    assert (fit[["fit_s", "pandas_s", "task_weights_s", "rss_before_mib"]] > 0).all().all(), fit
    assert (fit["peak_rss_mib"] >= fit["rss_before_mib"]).all()

    store = tables["store"]
    assert store[["backend", "drivers", "trials", "results"]].values.tolist() == [
        ["sqlite", 1, 3, 6],
        ["sqlite", 2, 6, 12],
    ]
    assert (
        (store[["trials_per_s", "results_per_s", "write_median_ms", "statements_per_result"]] > 0).all().all()
    )


def test_scale_example_extrapolates_a_capped_searcher() -> None:
    scale = load("scale")
    # A searcher whose calls cost 0.01 ms per trial done, stopped after 2,000 trials.
    done = [d for d in range(2000) for _ in range(2)]
    log = scale.CallLog(["suggest", "complete"] * 2000, done, [1e-5 * (d + 1) for d in done])
    log.finished, log.capped = 2000, True
    rows = scale.searcher_rows("slow", log, [1000, 10_000])
    assert rows[0]["measured"] == "yes"
    assert rows[0]["suggest_median_ms"] == pytest.approx(0.01 * 750, rel=0.01)
    assert rows[1]["measured"].startswith("extrapolated from 2000 (k=")
    growth = float(rows[1]["measured"].split("k=")[1].split(" ")[0])
    assert growth == pytest.approx(1.0, abs=0.05)
    assert rows[1]["suggest_median_ms"] == pytest.approx(0.01 * 10_000, rel=0.1)
    # Both kinds of call, from 0 to 10,000 trials: 2 x 0.01 ms x 10,000^2 / 2 = 1,000 s.
    assert rows[1]["searcher_s"] == pytest.approx(1000, rel=0.1)


@pytest.mark.integration
def test_xgboost_first_run_example_tunes_with_the_shipped_prior(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xgboost")
    from meta_tune.space import SearchSpace

    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    example = load("xgboost_first_run")
    accuracy, config = example.first_run(samples=3, storage_path=str(tmp_path / "ray"))
    # breast_cancer's validation split: XGBoost from the prior's first configs is far above
    # the majority class (0.63).
    assert accuracy > 0.9
    assert SearchSpace.from_tune(example.SPACE).check(config) is None
    # The refit for the example's space was cached for the next first run.
    assert len(list((tmp_path / "cache" / "priors").glob("*.json"))) == 1


def test_multi_objective_bench_runs_the_meta_test_tasks_it_is_given() -> None:
    bench = load("multi_objective_bench")
    test = ["24", "28", "29", "32"]

    def chosen(task_ids: str | None, tasks: int | None = None) -> list[str]:
        return bench._tasks(test, argparse.Namespace(task_ids=task_ids, tasks=tasks), "rbv2_xgboost")

    assert chosen(None) == test and chosen(None, 2) == ["24", "28"]
    assert chosen("32, 24") == ["32", "24"]
    with pytest.raises(SystemExit, match=r"\['7'\] are not meta-test tasks of rbv2_xgboost"):
        chosen("24,7")
