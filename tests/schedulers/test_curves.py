"""CurvePredictor: the final value of a curve from its first steps, learned from related tasks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meta_tune import Store
from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers import CurvePredictor
from tests.schedulers.conftest import STEPS, curve_of, synthetic_curves


@pytest.fixture(scope="module")
def predictor(train_curves: pd.DataFrame) -> CurvePredictor:
    return CurvePredictor.fit(train_curves, metric="acc", mode="max")


def test_learned_intervals_are_calibrated_on_new_tasks_and_tighten_with_the_prefix(
    predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    table = predictor.calibration(test_curves, prefixes=[1, 3, 6, 12, 18], level=0.8)
    assert list(table["prefix"]) == [1, 3, 6, 12, 18]
    assert (table["n"] == 80).all()
    assert table["coverage"].between(0.6, 1.0).all(), table
    assert table["width"].is_monotonic_decreasing
    assert table["mae"].iloc[-1] < table["mae"].iloc[1] < table["mae"].iloc[0]
    # Three steps of a curve pin its end far better than knowing nothing about it.
    finals = test_curves[test_curves["training_iteration"] == STEPS]["acc"]
    assert table.loc[table["prefix"] == 3, "mae"].item() < 0.25 * (finals - finals.mean()).abs().mean()


def test_good_and_bad_prefixes_get_the_right_chances(
    predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    finals = test_curves[test_curves["training_iteration"] == STEPS].set_index("trial")
    task0 = finals[finals["task"] == "t0"]["acc"]
    best, worst = int(task0.idxmax()), int(task0.idxmin())
    threshold = float(task0.quantile(0.9))
    good = predictor.predict(curve_of(test_curves, "t0", best)[:5])
    bad = predictor.predict(curve_of(test_curves, "t0", worst)[:5])
    assert good.prob_better(threshold) > 0.5
    assert bad.prob_better(threshold) < 0.05
    lo, hi = good.interval(0.8)
    assert lo <= task0[best] <= hi
    assert good.median > bad.median


def test_mode_min_is_the_mirror_image(train_curves: pd.DataFrame, test_curves: pd.DataFrame) -> None:
    as_loss = train_curves.assign(acc=-train_curves["acc"])
    mirrored = CurvePredictor.fit(as_loss, metric="acc", mode="min")
    maximized = CurvePredictor.fit(train_curves, metric="acc", mode="max")
    prefix = curve_of(test_curves, "t1", 3)[:4]
    up, down = maximized.predict(prefix), mirrored.predict(-prefix)
    np.testing.assert_allclose(up.quantile([0.1, 0.5, 0.9]), -down.quantile([0.9, 0.5, 0.1]))
    assert up.prob_better(0.7) == pytest.approx(down.prob_better(-0.7))


def test_a_whole_curve_predicts_its_own_last_value(predictor: CurvePredictor) -> None:
    curve = np.linspace(0.5, 0.8, STEPS + 3)
    assert predictor.predict(curve).median == pytest.approx(curve[STEPS - 1])


def test_fitting_from_a_store_equals_fitting_from_its_curves(
    tmp_path: Path, train_curves: pd.DataFrame, test_curves: pd.DataFrame
) -> None:
    small = train_curves[train_curves["trial"] < 10]
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        for task, rows in small.groupby("task"):
            store.create_task(str(task), metric="acc", mode="max", family="synthetic")
            for row in rows.itertuples():
                store.record_result(str(task), f"trial_{row.trial}", training_iteration=row.training_iteration,
                                    metrics={"acc": row.acc}, config={"x": row.trial})
        store.create_task("other", metric="acc", mode="max", family="unrelated")
        from_store = CurvePredictor.fit(store, metric="acc", mode="max", family="synthetic")
    from_frame = CurvePredictor.fit(small, metric="acc", mode="max")
    prefix = curve_of(test_curves, "t0", 0)[:6]
    np.testing.assert_allclose(from_store.predict(prefix).samples, from_frame.predict(prefix).samples)


def test_save_and_load_keep_every_prediction(
    tmp_path: Path, predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    predictor.save(tmp_path / "curves.npz")
    loaded = CurvePredictor.load(tmp_path / "curves.npz")
    prefix = curve_of(test_curves, "t1", 7)[:8]
    np.testing.assert_array_equal(loaded.predict(prefix).samples, predictor.predict(prefix).samples)
    assert repr(loaded) == repr(predictor)
    CurvePredictor.parametric(metric="acc", mode="max", max_t=STEPS).save(tmp_path / "p.npz")
    assert CurvePredictor.load(tmp_path / "p.npz").is_parametric
    with pytest.raises(InvalidConfigError, match=r"No curve predictor at .*missing\.npz: the file does not exist"):
        CurvePredictor.load(tmp_path / "missing.npz")


def test_the_parametric_fallback_extrapolates_a_power_law() -> None:
    t = np.arange(1, 41)
    curve = 0.9 - 0.4 * t ** -1.0
    predictor = CurvePredictor.parametric(metric="acc", mode="max", max_t=40)
    dist = predictor.predict(curve[:12])
    lo, hi = dist.interval(0.8)
    assert lo <= curve[-1] <= hi
    assert abs(dist.median - curve[-1]) < 0.01
    assert dist.prob_better(0.95) < 0.05 and dist.prob_better(0.85) > 0.95
    # Two steps say nothing: the chance of any outcome stays near one half.
    assert 0.3 < predictor.predict(curve[:2]).prob_better(0.95) < 0.7


def test_short_curves_and_gaps_are_skipped_and_bad_input_is_refused() -> None:
    curves = synthetic_curves(tasks=2, trials=6, steps=10)
    stopped = curves[~((curves["trial"] == 0) & (curves["training_iteration"] > 4))]
    gap = stopped[~((stopped["trial"] == 1) & (stopped["training_iteration"] == 5))]
    fitted = CurvePredictor.fit(gap, metric="acc", mode="max")
    assert fitted.max_t == 10 and "8 curves" in repr(fitted)  # trials 0 and 1 of both tasks dropped
    with pytest.raises(InvalidConfigError, match=r"lack the column\(s\) \['acc'\]"):
        CurvePredictor.fit(curves.rename(columns={"acc": "accuracy"}), metric="acc", mode="max")
    with pytest.raises(InvalidConfigError, match=r"No curve has a finite .acc. at every step 1\.\.30"):
        CurvePredictor.fit(curves, metric="acc", mode="max", max_t=30)
    with pytest.raises(InvalidConfigError, match="mode must be 'min' or 'max', got 'maximize'"):
        CurvePredictor.fit(curves, metric="acc", mode="maximize")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="finite metric values"):
        fitted.predict([0.5, float("nan")])
    with pytest.raises(InvalidConfigError, match="no tasks in family 'nope'"):
        CurvePredictor.fit(Store("sqlite://"), metric="acc", mode="max", family="nope")
