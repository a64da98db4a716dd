"""The shared epoch loop: the device a trial trains on, and checkpoints that load without pickles."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from ray import tune

from meta_tune.errors import InvalidConfigError
from meta_tune.trainables import run_epochs, select_device
from meta_tune.trainables._loop import load_checkpoint, load_training_state, seeded_generator, training_state


def test_a_trial_without_a_visible_gpu_trains_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device() == torch.device("cpu")


def test_a_trial_given_a_gpu_trains_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ray sets CUDA_VISIBLE_DEVICES to the trial's GPUs, so CUDA is available exactly then.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device() == torch.device("cuda")


def test_an_explicit_device_overrides_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("cuda:1") == torch.device("cuda", 1)


class TinyJob:
    """A torch training run small enough to checkpoint in a unit test."""

    def __init__(self, seed: int) -> None:
        self.rng = seeded_generator(seed)
        self.model = torch.nn.Linear(4, 1)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.1)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        x = torch.randn(8, 4) + float(self.rng.normal())
        loss = self.model(x).pow(2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def state_dict(self) -> dict[str, Any]:
        return training_state(self.model, self.optimizer, self.rng)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_training_state(state, self.model, self.optimizer, self.rng)


class FakeSession:
    """Stands in for Tune's session: keeps every reported checkpoint, serves one back."""

    def __init__(self, root: Path, resume_from: Path | None = None) -> None:
        self.root, self.resume_from = root, resume_from
        self.reports: list[dict[str, float]] = []
        self.checkpoints: list[Path] = []

    def get_checkpoint(self) -> tune.Checkpoint | None:
        return None if self.resume_from is None else tune.Checkpoint.from_directory(str(self.resume_from))

    def report(self, metrics: dict[str, float], *, checkpoint: tune.Checkpoint) -> None:
        kept = self.root / f"checkpoint_{len(self.checkpoints)}"
        shutil.copytree(checkpoint.path, kept)
        self.reports.append(metrics)
        self.checkpoints.append(kept)


def run_in(monkeypatch: pytest.MonkeyPatch, session: FakeSession, epochs: int) -> list[dict[str, float]]:
    monkeypatch.setattr(tune, "get_checkpoint", session.get_checkpoint)
    monkeypatch.setattr(tune, "report", session.report)
    run_epochs(TinyJob(seed=3), epochs)
    return session.reports


def test_a_resumed_run_loads_its_checkpoint_with_weights_only_and_continues_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = run_in(monkeypatch, FakeSession(tmp_path / "a"), 4)
    first = FakeSession(tmp_path / "b")
    run_in(monkeypatch, first, 2)
    checkpoint = first.checkpoints[-1] / "state.pt"
    payload = torch.load(checkpoint, weights_only=True)  # every part of the state is plain data
    assert payload["epoch"] == 2 and payload["job"]["rng"]["numpy"]["bit_generator"] == "PCG64"
    resumed = run_in(monkeypatch, FakeSession(tmp_path / "c", resume_from=first.checkpoints[-1]), 4)
    assert resumed == straight[2:]


class WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "ran"))


def test_a_checkpoint_holding_other_objects_is_refused_and_never_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    torch.save({"epoch": 1, "job": WritesMarker(marker)}, folder / "state.pt")
    with pytest.raises(InvalidConfigError, match=r"checkpoint .*state\.pt holds objects other than tensors"):
        run_in(monkeypatch, FakeSession(tmp_path / "run", resume_from=folder), 2)
    assert not marker.exists()
    (folder / "state.pt").write_bytes(b"truncated")
    with pytest.raises(InvalidConfigError, match=r"Cannot read the checkpoint .*state\.pt"):
        run_in(monkeypatch, FakeSession(tmp_path / "run2", resume_from=folder), 2)


def family_job(family: str, tmp_path: Path) -> Any:
    """A tiny job of each trainable family (the fast configs of their own tests)."""
    if family == "image":
        from meta_tune.trainables.image import ImageJob
        from tests.trainables.test_image import FAST

        return ImageJob(FAST)
    if family == "meta":
        from meta_tune.trainables.meta import MetaJob
        from tests.trainables.test_meta import _config

        return MetaJob(_config())
    if family == "rl":
        from meta_tune.trainables.rl import RLJob
        from tests.trainables.test_rl import FAST as RL_FAST

        return RLJob({**RL_FAST, "epochs": 1})
    from meta_tune.trainables.text import TextJob
    from tests.trainables.test_text import FAST as TEXT_FAST
    from tests.trainables.test_text import _documents

    path = tmp_path / "docs.csv"
    path.write_text("text,label\n" + "\n".join(f"{text},{label}" for text, label in _documents()) + "\n")
    return TextJob({**TEXT_FAST, "task": str(path)})


@pytest.mark.parametrize("family", ["image", "meta", "rl", "text"])
def test_every_trainables_state_loads_with_weights_only(family: str, tmp_path: Path) -> None:
    job = family_job(family, tmp_path)
    job.train_epoch(0)
    torch.save({"epoch": 1, "job": job.state_dict()}, tmp_path / "state.pt")
    payload = load_checkpoint(tmp_path / "state.pt")
    job.load_state_dict(payload["job"])
    if hasattr(job, "close"):
        job.close()
