"""What ``meta-tune report`` reads from each source, and how it refuses a bad one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meta_tune.cli import main
from meta_tune.errors import InvalidConfigError
from meta_tune.store import Store

pytest.importorskip("plotly")

from meta_tune.report import write_report
from meta_tune.report._data import bench_mode, from_bench, from_demo, load
from meta_tune.report._figures import curves_section, mean_best_at, pareto_front
from tests.report.conftest import STOPPED


def test_the_pareto_front_keeps_the_trials_nothing_beats_on_both() -> None:
    values = np.array([0.9, 0.8, 0.95, 0.7, 0.95])
    cost = np.array([10.0, 2.0, 30.0, 1.0, 40.0])
    assert pareto_front(values, cost, "max").tolist() == [3, 1, 0, 2]
    assert pareto_front(-values, cost, "min").tolist() == [3, 1, 0, 2]


def test_the_mean_over_runs_against_time_starts_when_every_run_has_a_result() -> None:
    rows = pd.DataFrame({"run": ["a", "a", "b"], "time": [1.0, 3.0, 2.0], "best": [0.5, 0.7, 0.6]})
    mean = mean_best_at(rows, np.array([0.0, 1.0, 2.0, 3.0, 9.0]))
    assert np.isnan(mean[:2]).all()
    assert mean[2:].tolist() == pytest.approx([0.55, 0.65, 0.65])


def test_a_bench_folder_is_read_with_its_mode(bench_folder: Path, tmp_path: Path) -> None:
    data = from_bench(bench_folder)
    assert (data.metric, data.mode) == ("acc", "max")
    assert set(data.trials["group"]) == {"random", "prior@asha"}
    assert data.trials.groupby("run")["n"].max().eq(12).all()
    assert "cp" in data.params and not any(p.startswith("config/") for p in data.params)
    # The best so far never falls within a run.
    assert (data.trials.groupby("run")["best"].diff().dropna() >= 0).all()
    # The same folder with the metric negated reads as minimized.
    flipped = tmp_path / "flipped"
    flipped.mkdir()
    trajectories = pd.read_csv(bench_folder / "trajectories.csv")
    trajectories["acc"] = -trajectories["acc"]
    trajectories.to_csv(flipped / "trajectories.csv", index=False)
    regret = pd.read_csv(bench_folder / "regret.csv")
    regret.to_csv(flipped / "regret.csv", index=False)
    assert bench_mode(trajectories, regret, "acc") == "min"
    assert from_bench(flipped).mode == "min"


def test_a_demo_folder_takes_its_configs_and_curves_from_the_store(
    demo_folder: Path, image_store: Store
) -> None:
    data = from_demo(demo_folder, store=image_store)
    assert (data.metric, data.mode, data.family) == ("accuracy", "max", "image")
    assert data.exclude == ["image/digits"]  # the prior leaves the demo's task out
    assert set(data.trials["run"]) == {"prior seed 0", "hyperopt seed 0"}
    assert data.trials["lr"].notna().all()
    assert data.curves is not None and set(data.curves["run"]) == set(data.trials["run"])
    last_steps = data.curves.groupby("trial_id")["step"].max()
    assert sorted(last_steps[last_steps < 6]) == sorted(list(STOPPED.values()) * 2)  # both runs
    caption = curves_section(data).caption  # type: ignore[union-attr]
    assert f"ended before its run's longest trial ({2 * len(STOPPED)} trials)" in caption
    alone = from_demo(demo_folder, store=None)
    assert alone.params == [] and alone.curves is None
    assert "holds none of this demo's trials" in alone.notes[0]


def test_a_demo_report_without_its_store_still_shows_the_runs(demo_folder: Path, tmp_path: Path) -> None:
    path = write_report(demo_folder, tmp_path / "r.html", store=Store(f"sqlite:///{tmp_path / 'empty.db'}",
                                                                      create=True))  # fmt: skip
    text = path.read_text(encoding="utf-8")
    assert ">Best so far</h2>" in text and "Parallel coordinates" not in text
    assert "pass the --store the demo recorded into" in text


def test_bad_sources_are_refused_in_one_line_before_any_work(
    image_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    (tmp_path / "empty").mkdir()
    cases = [
        (
            str(tmp_path / "empty"),
            "is not a `meta-tune bench` output (trajectories.csv) or a `meta-tune demo`",
        ),
        ("image/nope", "'image/nope' is not a folder, a task or a family of the store"),
    ]
    for source, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["--store", image_store.url, "report", source, "-o", str(out)])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert "families: image" in err or "bench" in err
        assert not out.exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.DataFrame({"searcher": ["prior"], "seed": [0]}).to_csv(bad / "runs.csv", index=False)
    with pytest.raises(InvalidConfigError, match="is not a `meta-tune demo` runs file"):
        load(str(bad), store=image_store)
