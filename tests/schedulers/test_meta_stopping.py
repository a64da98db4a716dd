"""MetaStoppingScheduler's decisions, without Ray (the rule) and inside real Tune runs."""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, HyperBandScheduler, TrialScheduler

from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers import CurvePredictor, MetaStoppingScheduler
from tests.schedulers.conftest import STEPS, curve_of


@dataclass
class FakeTrial:
    trial_id: str


@pytest.fixture(scope="module")
def predictor(train_curves: pd.DataFrame) -> CurvePredictor:
    return CurvePredictor.fit(train_curves, metric="acc", mode="max")


def run_curve(scheduler: TrialScheduler, trial_id: str, curve: np.ndarray, metric: str = "acc") -> int:
    """Feed a curve step by step as Tune would; the step at which the trial ended."""
    trial = FakeTrial(trial_id)
    scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
    for step, value in enumerate(curve, start=1):
        result = {"training_iteration": step, metric: float(value)}
        decision = scheduler.on_trial_result(None, trial, result)  # type: ignore[arg-type]
        if decision == TrialScheduler.STOP or step == len(curve):
            scheduler.on_trial_complete(None, trial, result)  # type: ignore[arg-type]
            return step
    raise AssertionError("unreachable")


def finals_and_curves(curves: pd.DataFrame, task: str) -> tuple[pd.Series, dict[int, np.ndarray]]:
    finals = curves[(curves["task"] == task) & (curves["training_iteration"] == STEPS)].set_index("trial")[
        "acc"
    ]
    return finals, {int(t): curve_of(curves, task, int(t)) for t in finals.index}


def test_bad_trials_stop_early_once_good_ones_have_finished(
    predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    finals, curves = finals_and_curves(test_curves, "t0")
    order = finals.sort_values(ascending=False).index.tolist()
    scheduler = MetaStoppingScheduler(predictor, min_t=2, top_k=3, threshold=0.05)
    # Until top_k trials have finished, nothing is stopped, however bad.
    assert [run_curve(scheduler, f"worst{i}", curves[order[-1 - i]]) for i in range(3)] == [STEPS] * 3
    for i in range(3):
        run_curve(scheduler, f"good{i}", curves[order[i]])
    ended = {t: run_curve(scheduler, f"trial{t}", curves[t]) for t in order[3:]}
    bad = [t for t in order[3:] if finals[t] < finals[order[2]] - 0.1]
    assert bad and all(ended[t] <= 4 for t in bad)
    assert all(ended[t] >= 2 for t in ended)  # min_t
    # No trial that would have beaten the reference was stopped.
    assert all(ended[t] == STEPS for t in order[3:] if finals[t] > finals[order[2]])
    assert "stopped early" in scheduler.debug_string()


def test_mode_min_decides_the_same_on_the_mirrored_problem(
    train_curves: pd.DataFrame, test_curves: pd.DataFrame
) -> None:
    up = MetaStoppingScheduler(CurvePredictor.fit(train_curves, metric="acc", mode="max"), top_k=2)
    mirrored = train_curves.assign(loss=-train_curves["acc"])
    down = MetaStoppingScheduler(CurvePredictor.fit(mirrored, metric="loss", mode="min"), top_k=2)
    _, curves = finals_and_curves(test_curves, "t1")
    a = [run_curve(up, str(t), c) for t, c in curves.items()]
    b = [run_curve(down, str(t), -c, metric="loss") for t, c in curves.items()]
    assert a == b and min(a) < STEPS


def test_the_base_scheduler_decides_first_and_its_pause_stands(predictor: CurvePredictor) -> None:
    class PauseAtThree(FIFOScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            return TrialScheduler.PAUSE if result["training_iteration"] == 3 else TrialScheduler.CONTINUE

    scheduler = MetaStoppingScheduler(predictor, base=PauseAtThree())
    trial = FakeTrial("a")
    scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
    decisions = [
        scheduler.on_trial_result(None, trial, {"training_iteration": s, "acc": 0.5})  # type: ignore[arg-type]
        for s in (1, 2, 3)
    ]
    assert decisions == ["CONTINUE", "CONTINUE", "PAUSE"]
    # Resumed from an older checkpoint: steps come again and overwrite, nothing breaks.
    assert scheduler.on_trial_result(None, trial, {"training_iteration": 2, "acc": 0.6}) == "CONTINUE"  # type: ignore[arg-type]

    asha = MetaStoppingScheduler(
        predictor, base=ASHAScheduler(max_t=STEPS, grace_period=1, reduction_factor=2)
    )
    asha.set_search_properties("acc", "max")
    ends = [run_curve(asha, f"t{i}", np.full(STEPS, 0.9 - 0.1 * i)) for i in range(3)]
    assert ends[0] == STEPS and ends[2] == 1  # ASHA's rung 1 stops the third, worse trial


def test_save_and_restore_continue_with_the_same_decisions(
    tmp_path: Path, predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    _, curves = finals_and_curves(test_curves, "t0")
    items = list(curves.items())
    whole = MetaStoppingScheduler(predictor, base=ASHAScheduler(max_t=STEPS))
    whole.set_search_properties("acc", "max")
    first = [run_curve(whole, str(t), c) for t, c in items[:20]]
    whole.save(str(tmp_path / "scheduler.json"))
    rest = [run_curve(whole, str(t), c) for t, c in items[20:]]

    resumed = MetaStoppingScheduler(predictor, base=ASHAScheduler(max_t=STEPS))
    resumed.restore(str(tmp_path / "scheduler.json"))
    assert [run_curve(resumed, str(t), c) for t, c in items[20:]] == rest
    assert min(first + rest) < STEPS
    state = json.loads((tmp_path / "scheduler.json").read_text())  # its own state is plain JSON
    assert state["base"] == {
        "class": "AsyncHyperBandScheduler",
        "module": "ray.tune.schedulers.async_hyperband",
        "saved": True,
    }
    assert (tmp_path / "scheduler.json.base").is_file()  # ASHA's state, written by Ray's own save


def test_a_default_built_scheduler_restores_the_whole_state(
    tmp_path: Path, predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    _, curves = finals_and_curves(test_curves, "t0")
    items = list(curves.items())
    whole = MetaStoppingScheduler(
        predictor, min_t=4, top_k=2, threshold=0.2, base=ASHAScheduler(max_t=STEPS, grace_period=10)
    )
    whole.set_search_properties(None, None)
    [run_curve(whole, str(t), c) for t, c in items[:15]]
    running = FakeTrial("running")
    whole.on_trial_add(None, running)  # type: ignore[arg-type]
    whole.on_trial_result(None, running, {"training_iteration": 1, "acc": 0.5})  # type: ignore[arg-type]
    whole.save(str(tmp_path / "state.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "state.json",
        "state.json.base",  # ASHA's own state, by Ray's save
        "state.json.predictor.npz",  # the predictor's arrays, by CurvePredictor.save (no pickle)
    ]

    # As Ray's schedulers: settings, predictor and base all come from the saved state.
    resumed = MetaStoppingScheduler(max_t=3)
    resumed.restore(str(tmp_path / "state.json"))
    assert resumed.debug_string() == whole.debug_string()
    assert resumed.metric == "acc"
    step = {"training_iteration": 2, "acc": 0.1}
    assert resumed.on_trial_result(None, running, step) == whole.on_trial_result(None, running, step)  # type: ignore[arg-type]
    rest = [run_curve(whole, str(t), c) for t, c in items[15:]]
    assert [run_curve(resumed, str(t), c) for t, c in items[15:]] == rest
    # The rule acts (ASHA's only rung is at step 10) from min_t=4 on: max_t and min_t came back.
    assert min(rest) >= 4 and any(end < 10 for end in rest), rest
    assert resumed.debug_string() == whole.debug_string()

    # A fitted predictor is one more file; a parametric one none.
    parametric = MetaStoppingScheduler(metric="acc", mode="max", max_t=30, min_t=5, top_k=1)
    t = np.arange(1, 31)
    run_curve(parametric, "good", 0.9 - 0.3 * t**-1.0)
    parametric.save(str(tmp_path / "parametric.json"))
    assert not (tmp_path / "parametric.json.predictor.npz").exists()
    again = MetaStoppingScheduler(max_t=2)
    again.restore(str(tmp_path / "parametric.json"))
    assert run_curve(again, "hopeless", 0.5 - 0.3 * t**-1.0) <= 6


def test_with_a_fifo_base_the_state_is_json_and_the_predictor_s_arrays(
    tmp_path: Path, predictor: CurvePredictor, test_curves: pd.DataFrame
) -> None:
    _, curves = finals_and_curves(test_curves, "t0")
    items = list(curves.items())
    whole = MetaStoppingScheduler(predictor, top_k=2)
    whole.set_search_properties("acc", "max")
    [run_curve(whole, str(t), c) for t, c in items[:10]]
    trial = FakeTrial("running")
    whole.on_trial_add(None, trial)  # type: ignore[arg-type]
    whole.on_trial_result(None, trial, {"training_iteration": 1, "acc": 0.5})  # type: ignore[arg-type]
    whole.save(str(tmp_path / "state.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.predictor.npz"]
    with np.load(tmp_path / "state.json.predictor.npz", allow_pickle=False) as arrays:
        assert arrays["curves"].shape[1] == STEPS
    resumed = MetaStoppingScheduler(max_t=STEPS)
    resumed.restore(str(tmp_path / "state.json"))
    rest = [run_curve(whole, str(t), c) for t, c in items[10:]]
    assert [run_curve(resumed, str(t), c) for t, c in items[10:]] == rest
    assert resumed.debug_string() == whole.debug_string()


class WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "ran"))


def test_restore_reads_no_pickle_and_refuses_bad_states(tmp_path: Path, predictor: CurvePredictor) -> None:
    marker = tmp_path / "marker"
    scheduler = MetaStoppingScheduler(predictor)
    old = tmp_path / "old.pkl"  # what meta-tune wrote before: a pickle, here a hostile one
    old.write_bytes(pickle.dumps({"class": "MetaStoppingScheduler", "base": WritesMarker(marker)}))
    with pytest.raises(
        InvalidConfigError, match=r"old\.pkl is a pickle .*reads only the JSON that save writes now"
    ):
        scheduler.restore(str(old))
    assert not marker.exists()
    with pytest.raises(InvalidConfigError, match=r"missing\.json"):
        scheduler.restore(str(tmp_path / "missing.json"))
    good = tmp_path / "good.json"
    scheduler.save(str(good))
    shutil.copy(f"{good}.predictor.npz", tmp_path / "bad.json.predictor.npz")
    for change, match in (
        ({"class": "Other"}, "not written by MetaStoppingScheduler.save"),
        ({"format": 9}, "its format is 9"),
        ({"curves": {"t": [[1]]}}, "not lists of \\[step, value\\] pairs"),
        ({"finals": ["x"]}, "'finals' are not a list of numbers"),
        ({"settings": {"max_t": 5, "min_t": 6, "top_k": 1, "threshold": 0.1}}, "settings are out of range"),
        (
            {"settings": {"max_t": 5, "min_t": 2, "top_k": 1, "threshold": 2}},
            "threshold 2 is not a probability",
        ),
        (
            {"base": {"class": "AsyncHyperBandScheduler", "module": ASHAScheduler.__module__, "saved": True}},
            r"base AsyncHyperBandScheduler in .*bad\.json\.base, which is missing",
        ),
        (
            {"base": {"class": "Popen", "module": "subprocess", "saved": False}},
            r"base=Popen \(module 'subprocess'\), which restore builds only from ray\.tune\.schedulers",
        ),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**json.loads(good.read_text()), **change}))
        with pytest.raises(InvalidConfigError, match=match):
            scheduler.restore(str(bad))
    # A base given to the scheduler must be the saved one.
    other = MetaStoppingScheduler(predictor, base=HyperBandScheduler(max_t=STEPS))
    with pytest.raises(
        InvalidConfigError, match="saved with base=FIFOScheduler, but this scheduler's base is Hyp"
    ):
        other.restore(str(good))
    # The predictor file must belong to the state beside it.
    MetaStoppingScheduler(predictor).save(str(tmp_path / "other.json"))
    CurvePredictor.fit(
        pd.DataFrame({"task": "t", "trial": 0, "training_iteration": [1, 2, 3], "loss": [3.0, 2.0, 1.0]}),
        metric="loss",
        mode="min",
    ).save(str(tmp_path / "other.json.predictor.npz"))
    with pytest.raises(InvalidConfigError, match="the files come from different saves"):
        scheduler.restore(str(tmp_path / "other.json"))


def test_without_history_the_parametric_rule_stops_hopeless_curves() -> None:
    scheduler = MetaStoppingScheduler(metric="acc", mode="max", max_t=30, min_t=5, top_k=1)
    t = np.arange(1, 31)
    assert run_curve(scheduler, "good", 0.9 - 0.3 * t**-1.0) == 30
    assert run_curve(scheduler, "hopeless", 0.5 - 0.3 * t**-1.0) <= 6


def test_bad_settings_are_refused(predictor: CurvePredictor) -> None:
    with pytest.raises(InvalidConfigError, match="needs max_t= when no predictor is given"):
        MetaStoppingScheduler()
    with pytest.raises(InvalidConfigError, match="mode='min' conflicts with the predictor"):
        MetaStoppingScheduler(predictor, mode="min")
    with pytest.raises(InvalidConfigError, match="max_t=50 conflicts with the predictor's max_t=20"):
        MetaStoppingScheduler(predictor, max_t=50)
    with pytest.raises(InvalidConfigError, match=r"threshold is a probability in \(0, 1\), got 2"):
        MetaStoppingScheduler(predictor, threshold=2)
    with pytest.raises(InvalidConfigError, match=r"min_t must lie in \[1, max_t=20\], got 0"):
        MetaStoppingScheduler(predictor, min_t=0)
    unset = MetaStoppingScheduler(max_t=10)
    with pytest.raises(InvalidConfigError, match=r"tune.TuneConfig\(metric=..., mode=...\)"):
        unset.on_trial_add(None, FakeTrial("x"))  # type: ignore[arg-type]
    assert not MetaStoppingScheduler(predictor).set_search_properties("loss", "max")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("base", ["asha", "hyperband"])
def test_inside_a_tuner_with_concurrent_trials(
    ray_session: None, tmp_path: Path, predictor: CurvePredictor, base: str
) -> None:
    from ray import tune
    from ray.tune.schedulers import HyperBandScheduler

    from tests.schedulers._trainable import curve_trainable

    inner = (
        ASHAScheduler(max_t=STEPS, grace_period=1, reduction_factor=2)
        if base == "asha"
        else HyperBandScheduler(max_t=STEPS, reduction_factor=3)
    )
    scheduler = MetaStoppingScheduler(predictor, min_t=2, top_k=2, base=inner)
    # HyperBand's first bracket runs its first four trials to max_t; later ones meet the rule.
    qualities = [0.95, 0.9, 0.85, 0.8, 0.1, 0.05, 0.15, 0.75, 0.0, 0.2]
    # HyperBand needs its largest bracket (9 trials here) live at once: with fewer, a trial it
    # paused can wait forever for bracket-mates that another rule stopped (README, Schedulers).
    # The time budget turns any such wait into a failure rather than a hung test run.
    tuner = tune.Tuner(
        curve_trainable,
        param_space={"quality": tune.grid_search(qualities)},
        tune_config=tune.TuneConfig(
            scheduler=scheduler,
            max_concurrent_trials=2 if base == "asha" else len(qualities),
            reuse_actors=True,
            time_budget_s=300,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    steps = {r.config["quality"]: r.metrics["training_iteration"] for r in results}
    best = results.get_best_result(metric="acc", mode="max")
    assert best.config["quality"] == 0.95 and steps[0.95] == STEPS
    hopeless = [q for q in qualities if q <= 0.2]
    assert all(steps[q] < STEPS for q in hopeless), steps


def yield_curve(config: dict[str, Any]) -> Any:
    """A trainable that yields plain numbers (Tune reports them as its anonymous ``_metric``)."""
    for step in range(1, 31):
        yield config["quality"] - 0.3 / step


@pytest.mark.integration
def test_given_only_a_mode_it_acts_on_tune_s_anonymous_metric(ray_session: None, tmp_path: Path) -> None:
    from ray import tune

    scheduler = MetaStoppingScheduler(max_t=30, min_t=5, top_k=1)
    results = tune.Tuner(
        yield_curve,
        param_space={"quality": tune.grid_search([0.9, 0.5, 0.4])},
        tune_config=tune.TuneConfig(
            mode="max", scheduler=scheduler, max_concurrent_trials=1, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors
    assert scheduler.metric == "_metric"
    steps = {r.config["quality"]: r.metrics["training_iteration"] for r in results}
    assert steps[0.9] == 30 and steps[0.5] <= 6 and steps[0.4] <= 6, steps
