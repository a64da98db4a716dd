"""Live progress: trials done of all, the best so far and the time left, as the user reads them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from meta_tune.bench._run import RunDone
from meta_tune.cli._progress import BenchProgress, Progress, TrialProgress, format_duration, time_left


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def trial(trial_id: str, **result: float) -> SimpleNamespace:
    return SimpleNamespace(
        trial_id=trial_id, last_result={"training_iteration": 3, **result}, status="TERMINATED"
    )


def test_durations_read_as_a_person_would_write_them() -> None:
    assert [format_duration(s) for s in (0.4, 45, 185, 3720)] == ["0s", "45s", "3m05s", "1h02m"]
    assert time_left(30.0, 0, 10) is None
    assert time_left(30.0, 3, 12) == pytest.approx(90.0)


def test_each_trial_line_has_the_counts_the_best_so_far_and_the_time_left() -> None:
    clock, lines = Clock(), []
    progress = Progress("loss", "min", total=4, echo=lines.append, clock=clock)
    callback = progress.callback()
    for seconds, value in ((10, 0.5), (10, 0.7), (10, 0.2)):
        clock.now += seconds
        callback.on_trial_complete(0, [], trial(f"t{len(lines)}", loss=value))
    assert (
        lines[0]
        == "  t0: loss=0.5000 after 3 epoch(s), best 0.5000 | 1/4 trials done, 10s elapsed, ~30s left"
    )
    assert (
        "loss=0.7000" in lines[1]
        and "best 0.5000" in lines[1]
        and "2/4 trials done, 20s elapsed, ~20s left" in lines[1]
    )
    assert "best 0.2000" in lines[2] and lines[2].endswith("3/4 trials done, 30s elapsed, ~10s left")
    clock.now += 10
    callback.on_trial_error(0, [], trial("t3"))
    assert lines[3] == "  t3: errored | 4/4 trials done (1 errored), 40s elapsed"


def test_runs_of_one_command_share_the_counts_but_not_the_best() -> None:
    clock, lines = Clock(), []
    progress = Progress("accuracy", "max", total=4, runs=2, echo=lines.append, clock=clock)
    first = progress.callback()
    clock.now += 5
    first.on_trial_complete(0, [], trial("a", accuracy=0.9))
    second = progress.callback()
    clock.now += 5
    second.on_trial_complete(0, [], trial("b", accuracy=0.6))
    assert lines[0].startswith("  [run 1/2] a: accuracy=0.9000") and "1/4 trials done" in lines[0]
    assert lines[1].startswith("  [run 2/2] b: accuracy=0.6000") and "best 0.6000" in lines[1]
    assert "2/4 trials done, 10s elapsed, ~10s left" in lines[1]


def test_a_resumed_run_counts_its_earlier_trials_but_estimates_from_its_own() -> None:
    clock, lines = Clock(), []
    progress = Progress("accuracy", "max", total=10, already_done=6, echo=lines.append, clock=clock)
    clock.now += 20
    progress.callback().on_trial_complete(0, [], trial("a", accuracy=0.5))
    assert lines[0].endswith("7/10 trials done, 20s elapsed, ~1m00s left")


def test_without_a_mode_no_best_is_claimed() -> None:
    lines: list[str] = []
    callback = TrialProgress("reward", 2, progress=Progress("reward", None, 2, echo=lines.append))
    callback.on_trial_complete(0, [], trial("a", reward=3.0))
    assert "best" not in lines[0] and "reward=3.0000" in lines[0]


def test_a_heartbeat_while_no_trial_finishes() -> None:
    clock, lines = Clock(), []
    progress = Progress("accuracy", "max", total=4, echo=lines.append, clock=clock, heartbeat_s=30)
    callback = progress.callback()
    running = [
        SimpleNamespace(status="RUNNING"),
        SimpleNamespace(status="RUNNING"),
        SimpleNamespace(status="PENDING"),
    ]
    clock.now += 29
    callback.on_step_end(0, running)
    assert lines == []
    clock.now += 1
    callback.on_step_end(0, running)
    clock.now += 10
    callback.on_step_end(0, running)
    assert lines == ["  ... 2 trial(s) running; 0/4 trials done, 30s elapsed"]


def _run(done: int, total: int = 4) -> RunDone:
    return RunDone("prior", "14", done - 1, done, total, 20, 0.91234)


def test_bench_prints_its_steps_and_a_run_line_at_most_every_interval() -> None:
    clock, lines = Clock(), []
    progress = BenchProgress("acc", every_s=10, echo=lines.append, clock=clock)
    clock.now += 60
    progress.phase("Running 4 runs")
    for seconds, done in ((5, 1), (3, 2), (8, 3), (4, 4)):
        clock.now += seconds
        progress.run_done(_run(done))
    assert lines[0] == "  Running 4 runs (1m00s elapsed)"
    # The first and the last run always print; the second came 3 s after the first: skipped.
    assert (
        lines[1]
        == "  [1/4 runs] prior on task 14 seed 0: best acc 0.9123 in 20 trials | 1m05s elapsed, ~15s left"
    )
    assert lines[2].startswith("  [3/4 runs]") and lines[2].endswith("~5s left")
    assert lines[3].startswith("  [4/4 runs]") and "left" not in lines[3]
    assert len(lines) == 4
