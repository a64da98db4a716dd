"""run_benchmark: the same trajectories whatever the number of worker processes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from meta_tune.bench import load_scenario
from meta_tune.bench._run import BenchmarkConfig, run_benchmark
from meta_tune.errors import InvalidConfigError


@pytest.mark.slow
def test_parallel_jobs_give_the_same_trajectories(
    yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    scenario = load_scenario("lcbench", yahpo_dir)
    config = BenchmarkConfig(methods=("random@meta_stopping", "prior@asha"), trials=60, seeds=2, workers=4,
                             tasks=("7593", "34539"), time_budget=2, history_trials=10)
    done: list[tuple[int, int]] = []
    serial = run_benchmark(scenario, config)
    parallel = run_benchmark(scenario, config, jobs=2, progress=lambda d, t: done.append((d, t)))
    pd.testing.assert_frame_equal(serial.drop(columns="suggest_s"), parallel.drop(columns="suggest_s"))
    assert done[-1] == (8, 8)
    with pytest.raises(InvalidConfigError, match="jobs must be >= 1, got 0"):
        run_benchmark(scenario, config, jobs=0)


def test_an_unrelated_history_misleads_the_prior_and_is_refused_when_unknown(
    yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meta_tune.bench import metric_bounds

    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    scenario = load_scenario("rbv2_rpart", yahpo_dir)
    tasks = ("14", "24", "28")
    regret = {}
    for history in ("true", "negated", "shuffled"):
        config = BenchmarkConfig(methods=("prior",), trials=3, seeds=1, tasks=tasks, history_trials=30,
                                 history=history)  # type: ignore[arg-type]
        frame = run_benchmark(scenario, config)
        bounds = metric_bounds(scenario, "acc", tasks=list(tasks), n_samples=500)
        first = frame[frame["trial"] == 0]
        regret[history] = sum(float(bounds[t].regret(v)) for t, v in zip(first["task"], first["acc"])) / 3
    # The portfolio's first config: good with the true history, bad when the history points away.
    assert regret["true"] < 0.2 < regret["negated"]
    assert regret["shuffled"] > regret["true"]
    with pytest.raises(InvalidConfigError, match="history must be 'true', 'negated' or 'shuffled', got 'x'"):
        BenchmarkConfig(history="x")  # type: ignore[arg-type]


def test_transfer_methods_learn_the_runtimes_and_start_with_cheap_configs(
    yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench history keeps the surrogate's runtime: the prior's portfolio is chosen per second."""
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    scenario = load_scenario("rbv2_xgboost", yahpo_dir)
    tasks = ("24", "28", "29", "46")
    first_seconds = {}
    for objective in ("time", "trials"):
        config = BenchmarkConfig(methods=("prior",), trials=16, seeds=1, tasks=tasks, history_trials=40,
                                 prior_options={"portfolio_objective": objective})
        frame = run_benchmark(scenario, config)
        portfolio = frame[frame["trial"] < 4]  # a budget of 16 trials serves 4 portfolio configs first
        first_seconds[objective] = portfolio.groupby("task")["end_time"].max().sum()
    # Chosen per second they take a small fraction of the per-trial ones' time (~1% measured).
    assert first_seconds["time"] < 0.2 * first_seconds["trials"]


def test_each_run_and_each_preparation_step_is_reported(
    yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meta_tune.bench._run import RunDone

    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    scenario = load_scenario("rbv2_rpart", yahpo_dir)
    config = BenchmarkConfig(methods=("random", "prior"), trials=4, seeds=2, tasks=("14",), history_trials=10)
    phases: list[str] = []
    runs: list[RunDone] = []
    frame = run_benchmark(scenario, config, on_phase=phases.append, on_run_done=runs.append)
    assert phases[0].startswith("Fitting the transfer methods' prior on 10 random configs x")
    assert phases[-1] == "Running 4 runs (2 methods x 1 tasks x 2 seeds, 4 trials each)"
    assert [(r.method, r.seed, r.done, r.total, r.trials) for r in runs] == [
        ("random", 0, 1, 4, 4), ("prior", 0, 2, 4, 4), ("random", 1, 3, 4, 4), ("prior", 1, 4, 4, 4),
    ]  # fmt: skip
    for run in runs:
        own = frame[(frame["method"] == run.method) & (frame["seed"] == run.seed)]
        assert run.task == "14" and run.best == own["acc"].max()
