"""The device a trial trains on: CUDA exactly when the trial can see a GPU."""

from __future__ import annotations

import pytest
import torch

from meta_tune.trainables import select_device


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
