"""The simulator drives searchers as Tune does, over simulated time with k workers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.hyperopt import HyperOptSearch

from meta_tune.bench import SimulationConfig, simulate
from meta_tune.errors import InvalidConfigError

SPACE = {"x": tune.uniform(0.0, 1.0), "n": tune.randint(1, 4), "fixed": "keep-me"}


def objective(config: dict[str, Any]) -> list[dict[str, float]]:
    """Three steps; the run time grows with n, the loss is smallest at x = 0.3."""
    loss = (config["x"] - 0.3) ** 2
    return [{"loss": loss + 1.0 / step, "time_total_s": 10.0 * config["n"] * step} for step in (1, 2, 3)]


class RecordingSearcher(Searcher):
    """A seeded random searcher that logs every call Tune would make."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)
        self.calls: list[tuple[str, str]] = []
        self.properties: dict[str, Any] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self.properties = {"metric": metric, "mode": mode, "keys": sorted(config), **spec}
        self._metric, self._mode = metric, mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        self.calls.append(("suggest", trial_id))
        return {"x": float(self.rng.random()), "n": int(self.rng.integers(1, 4))}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.calls.append(("result", trial_id))
        assert result["config"]["fixed"] == "keep-me"

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.calls.append(("error" if error else "complete", trial_id))


def test_one_worker_runs_trials_back_to_back_and_calls_the_searcher_like_tune() -> None:
    searcher = RecordingSearcher()
    frame = simulate(searcher, objective, SPACE, SimulationConfig(metric="loss", mode="min", num_trials=5))
    assert searcher.properties == {"metric": "loss", "mode": "min", "keys": ["fixed", "n", "x"], "num_samples": 5}
    assert list(frame["trial"]) == [0, 1, 2, 3, 4]
    assert np.allclose(frame["start_time"].iloc[1:].to_numpy(), frame["end_time"].iloc[:-1].to_numpy())
    assert np.allclose(frame["end_time"] - frame["start_time"], 30.0 * frame["config/n"])
    first = [c for c in searcher.calls if c[1] == "sim_00000"]
    assert first == [("suggest", "sim_00000"), ("result", "sim_00000"), ("result", "sim_00000"),
                     ("result", "sim_00000"), ("complete", "sim_00000")]
    assert frame["loss"].tolist() == pytest.approx([(x - 0.3) ** 2 + 1 / 3 for x in frame["config/x"]])
    assert set(frame["config/fixed"]) == {"keep-me"}


def test_k_workers_keep_k_trials_in_flight() -> None:
    frame = simulate(RecordingSearcher(), objective, SPACE,
                     SimulationConfig(metric="loss", mode="min", num_trials=40, num_workers=4))
    assert len(frame) == 40
    times = sorted(set(frame["start_time"]) | set(frame["end_time"]))
    running = [((frame["start_time"] <= t) & (frame["end_time"] > t)).sum() for t in times[:-1]]
    assert max(running) == 4
    busy = (frame["end_time"] - frame["start_time"]).sum()
    assert frame["end_time"].max() == pytest.approx(busy / 4, rel=0.25)
    assert frame["end_time"].is_monotonic_increasing


def test_errors_reach_the_searcher_as_error_trials() -> None:
    def flaky(config: dict[str, Any]) -> list[dict[str, float]]:
        if config["x"] > 0.5:
            raise RuntimeError("diverged")
        return objective(config)

    searcher = RecordingSearcher()
    frame = simulate(searcher, flaky, SPACE, SimulationConfig(metric="loss", mode="min", num_trials=20, num_workers=2))
    failed = frame[frame["error"].notna()]
    assert len(failed) > 0 and (failed["config/x"] > 0.5).all()
    assert failed["loss"].map(math.isnan).all()
    assert {c[1] for c in searcher.calls if c[0] == "error"} == set(failed["trial_id"])


def test_same_seed_same_run_with_a_real_tune_searcher() -> None:
    def run(seed: int) -> Any:
        return simulate(HyperOptSearch(random_state_seed=seed, n_initial_points=5), objective, SPACE,
                        SimulationConfig(metric="loss", mode="min", num_trials=15, num_workers=2))

    a, b, c = run(1), run(1), run(2)
    assert a.equals(b)
    assert not a["config/x"].equals(c["config/x"])
    # TPE after 5 random points concentrates near the optimum x = 0.3.
    assert abs(a["config/x"].iloc[-5:] - 0.3).mean() < abs(a["config/x"].iloc[:5] - 0.3).mean()


def test_a_searcher_with_its_own_space_is_refused_as_tune_does() -> None:
    searcher = HyperOptSearch(space={"x": tune.uniform(0, 1)}, metric="loss", mode="min")
    with pytest.raises(InvalidConfigError, match="already given its own search space"):
        simulate(searcher, objective, SPACE, SimulationConfig(metric="loss", mode="min", num_trials=2))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InvalidConfigError, match="mode must be 'min' or 'max', got 'maximize'"):
        SimulationConfig(metric="loss", mode="maximize", num_trials=2)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="must be >= 1, got 0 and 1"):
        SimulationConfig(metric="loss", mode="min", num_trials=0)


def test_a_scheduler_stops_trials_as_tune_does() -> None:
    from ray.tune.schedulers import ASHAScheduler

    searcher = RecordingSearcher()
    frame = simulate(searcher, objective, SPACE, SimulationConfig(metric="loss", mode="min", num_trials=30),
                     scheduler=ASHAScheduler(max_t=3, grace_period=1, reduction_factor=3))
    stopped = frame[frame["stopped"]]
    assert len(stopped) > 10 and (stopped["steps"] < 3).all()
    assert (frame.loc[~frame["stopped"], "steps"] == 3).all()
    for trial_id, steps in zip(stopped["trial_id"], stopped["steps"]):
        calls = [kind for kind, t in searcher.calls if t == trial_id]
        # The result that triggered the stop reaches on_trial_complete, never on_trial_result.
        assert calls == ["suggest", *["result"] * (steps - 1), "complete"]
    # A stopped trial frees its worker at the stop: the next one starts right then.
    ends = frame.sort_values("end_time")["end_time"].to_numpy()
    starts = frame.sort_values("start_time")["start_time"].to_numpy()
    np.testing.assert_allclose(starts[1:], ends[:-1])


def test_pausing_schedulers_and_schedulers_with_their_own_metric_are_refused() -> None:
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler

    setup = SimulationConfig(metric="loss", mode="min", num_trials=20, num_workers=2)
    with pytest.raises(InvalidConfigError, match=r"paused a trial.*meta_tune\.bench\.run_tune"):
        simulate(RecordingSearcher(), objective, SPACE, setup, scheduler=HyperBandScheduler(max_t=3))
    with pytest.raises(InvalidConfigError, match="built with its own metric or mode"):
        simulate(RecordingSearcher(), objective, SPACE, setup,
                 scheduler=ASHAScheduler(metric="loss", mode="min", max_t=3))


def test_a_time_budget_ends_the_run() -> None:
    setup = SimulationConfig(metric="loss", mode="min", num_trials=1000, num_workers=2, time_budget=500.0)
    frame = simulate(RecordingSearcher(), objective, SPACE, setup)
    assert 5 < len(frame) < 1000
    assert frame["end_time"].max() <= 500.0
    with pytest.raises(InvalidConfigError, match="time_budget must be > 0"):
        SimulationConfig(metric="loss", mode="min", num_trials=2, time_budget=0)
