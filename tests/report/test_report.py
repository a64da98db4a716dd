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


def test_runs_with_several_objectives_get_their_pareto_front_and_hypervolume(
    objectives_store: Store, tmp_path: Path
) -> None:
    from meta_tune.priors import hypervolume
    from meta_tune.report._build import sections
    from meta_tune.report._figures import front_hypervolume, objectives_section

    data = load("mo/digits", store=objectives_store)
    assert data.objectives == [("accuracy", "max"), ("time_total_s", "min")]
    assert "accuracy (max) and time_total_s (min)" in data.title
    section = objectives_section(data)
    assert section is not None and section.table is not None
    trials = objectives_store.trials("mo/digits")
    points = trials[["accuracy", "runtime_s"]].to_numpy(float)
    mask, volume, reference = front_hypervolume(points, ["max", "min"])
    # The front: no other trial is at least as good on both and better on one.
    for i in np.flatnonzero(mask):
        better = (points[:, 0] >= points[i, 0]) & (points[:, 1] <= points[i, 1])
        strictly = (points[:, 0] > points[i, 0]) | (points[:, 1] < points[i, 1])
        assert not (better & strictly).any()
    assert 0 < mask.sum() < len(points)
    assert reference.tolist() == [points[:, 0].min(), points[:, 1].max()]  # the worst observed
    assert volume == pytest.approx(hypervolume(points * [-1, 1], [-reference[0], reference[1]])) and volume > 0
    row = section.table.iloc[0]
    assert (row["trials"], row["Pareto-optimal"]) == (len(points), mask.sum())
    assert row["hypervolume"] == pytest.approx(volume)
    assert f"hypervolume {volume:.4g}" in section.figure.layout.title.text  # type: ignore[union-attr]
    # Highlighted front, faded dominated trials, and a line joining the front.
    traces = {t.name: t for t in section.figure.data}  # type: ignore[union-attr]
    assert len(traces["mo/digits: Pareto-optimal"].x) == mask.sum()
    assert len(traces["mo/digits: dominated"].x) == len(points) - mask.sum()
    assert traces["mo/digits: dominated"].marker.opacity < 0.5
    assert traces["mo/digits: front"].mode == "lines"
    assert "Pareto front of the objectives" in [s.title for s in sections(data)]
    # A task tuned for one metric has no such section.
    assert objectives_section(load("image/digits", store=_one_metric_store(tmp_path))) is None


def _one_metric_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'one.db'}")
    store.create_task("image/digits", metric="accuracy", mode="max")
    for i, accuracy in enumerate([0.5, 0.7, 0.6]):
        store.record_trial("image/digits", f"t{i}", config={"lr": 0.1 * (i + 1)}, status="TERMINATED",
                           metrics={"accuracy": accuracy}, runtime_s=1.0 + i)
    return store


def test_three_objectives_are_drawn_as_pairwise_panels_and_a_family_gets_one_front_per_task(
    objectives_store: Store,
) -> None:
    from meta_tune.report._figures import objectives_section

    section = objectives_section(load("mo3/digits", store=objectives_store))
    assert section is not None and section.figure is not None
    titles = [a.text for a in section.figure.layout.annotations]
    assert titles == ["time_total_s against accuracy", "loss against accuracy", "loss against time_total_s"]
    assert "a trial on the front may look dominated in a panel" in section.caption
    family = objectives_section(load("mo", store=objectives_store))
    assert family is not None and family.table is not None
    assert family.table["run"].tolist() == ["mo/digits", "mo/digits_0to4"]
    assert (family.table["hypervolume"] > 0).all()
