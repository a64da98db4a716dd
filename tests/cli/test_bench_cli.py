"""``meta-tune bench`` end to end on a small slice of a real scenario."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from meta_tune.cli import main


def test_bench_writes_trajectories_regret_and_a_plot(
    yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    main(
        [
            "bench",
            "--scenario",
            "rbv2_rpart",
            "--methods",
            "random,prior",
            "--trials",
            "6",
            "--seeds",
            "2",
            "--tasks",
            "14,24",
            "--history-trials",
            "20",
            "--data-dir",
            str(yahpo_dir),
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert "2 meta-test tasks x 2 seeds, 6 trials" in printed and "@5" in printed
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert len(trajectories) == 2 * 2 * 2 * 6
    assert set(trajectories["method"]) == {"random", "prior"}
    regret = pd.read_csv(out / "regret.csv")
    assert regret["regret"].between(0, 1).all()
    assert (out / "regret.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_explains_bad_input(
    yahpo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "bench",
                "--scenario",
                "rbv2_rpart",
                "--methods",
                "random,smac",
                "--data-dir",
                str(yahpo_dir),
                "--out",
                str(tmp_path),
            ]
        )
    assert exit_info.value.code == 1
    assert "Unknown benchmark methods ['smac']; choose from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "bench",
                "--scenario",
                "rbv2_rpart",
                "--tasks",
                "1111",
                "--data-dir",
                str(yahpo_dir),
                "--out",
                str(tmp_path),
            ]
        )
    assert "are meta-train tasks of rbv2_rpart" in capsys.readouterr().err


def test_bench_runs_searchers_under_schedulers_in_simulated_time(
    yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    methods = "random,random@asha,random@meta_stopping,random@prior_asha,prior@meta_asha"
    main(["bench", "--scenario", "lcbench", "--methods", methods, "--trials", "200", "--time-budget", "4",
          "--workers", "4", "--seeds", "1", "--tasks", "7593", "--history-trials", "10",
          "--data-dir", str(yahpo_dir), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "at each simulated-time budget" in printed and "@4" in printed
    trajectories = pd.read_csv(out / "trajectories.csv")
    runs = trajectories.groupby("method")
    assert set(runs.groups) == set(methods.split(","))
    # Early stopping buys more (shorter) trials within the same simulated time.
    assert runs.size()["random"] < runs.size()["random@asha"]
    assert runs.size()["random"] < runs.size()["random@meta_stopping"]
    assert not trajectories.loc[trajectories["method"] == "random", "stopped"].any()
    assert trajectories.loc[trajectories["method"] == "random@meta_stopping", "stopped"].any()
    by_time = pd.read_csv(out / "regret_time.csv")
    assert by_time["regret"].between(0, 1).all()
    with pytest.raises(SystemExit):
        main(["bench", "--scenario", "lcbench", "--methods", "random@pbt", "--data-dir", str(yahpo_dir),
              "--out", str(out)])
    assert "Unknown scheduler 'pbt' in method 'random@pbt'; choose from" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.slow
def test_bench_runs_real_tune_over_the_replay_trainable(
    ray_session: None, yahpo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    main(["bench", "--scenario", "lcbench", "--driver", "tune", "--methods", "random@asha", "--trials", "6",
          "--workers", "2", "--seeds", "1", "--tasks", "7593", "--data-dir", str(yahpo_dir), "--out", str(out)])
    assert "1 meta-test tasks x 1 seeds, 6 trials" in capsys.readouterr().out
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert len(trajectories) == 6 and trajectories["val_accuracy"].notna().all()
    assert (trajectories["steps"] < 52).any()  # ASHA stopped trials inside Tune
    assert (trajectories["end_time"] > 0).all()
