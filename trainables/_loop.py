"""The epoch loop every meta-tune trainable shares: report, checkpoint, resume, device, seed."""

from __future__ import annotations

import logging
import pickle
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from meta_tune.errors import InvalidConfigError

logger = logging.getLogger(__name__)

_STATE_FILE = "state.pt"


class EpochJob(Protocol):
    """One training run, advanced an epoch (or an RL iteration) at a time.

    :func:`run_epochs` drives a job inside a Tune trial: it restores the job from Tune's
    checkpoint when the trial resumes, then calls :meth:`train_epoch` for each remaining
    epoch, reports the metrics it returns and saves :meth:`state_dict` as the checkpoint.
    A job whose state dict holds every RNG it uses resumes exactly where it stopped. The
    state dict may hold only tensors, numbers, strings and lists/dicts of them: checkpoints
    are loaded with ``torch.load(weights_only=True)`` (see :func:`load_checkpoint`).
    """

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch (0-based) and return the metrics to report after it."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the run: weights, optimizer, RNG states."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...


def run_epochs(job: EpochJob, epochs: int) -> None:
    """Run ``job`` for ``epochs`` epochs in the current Tune trial.

    Each epoch's metrics are reported with ``ray.tune.report`` together with a
    ``ray.tune.Checkpoint`` of the job's state, so a paused (HyperBand, PBT) or failed trial
    continues from its last finished epoch instead of starting over. ``epoch`` (1-based)
    is added to the reported metrics.

    Args:
        job: The training run.
        epochs: Total number of epochs of the trial, counting those done before a resume.
    """
    from ray import tune

    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            payload = load_checkpoint(Path(folder) / _STATE_FILE)
        job.load_state_dict(payload["job"])
        start = int(payload["epoch"])
        logger.info("Resumed from the checkpoint after epoch %d", start)
    for epoch in range(start, epochs):
        metrics = job.train_epoch(epoch)
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"epoch": epoch + 1, "job": job.state_dict()}, Path(folder) / _STATE_FILE)
            tune.report({**metrics, "epoch": epoch + 1}, checkpoint=tune.Checkpoint.from_directory(folder))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint file written by :func:`run_epochs`, safely.

    It is loaded with ``torch.load(weights_only=True)``: tensors, numbers, strings and
    containers of them, which is all a job's state may hold (RNG states as tensors or plain
    dicts, see :func:`rng_state`). A file holding any other object is refused before that
    object is built, so a checkpoint folder from elsewhere cannot run code.

    Raises:
        InvalidConfigError: The file is not such a checkpoint.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise InvalidConfigError(
            f"The checkpoint {path} holds objects other than tensors and plain data, so it is not "
            "loaded (meta-tune loads checkpoints with torch.load(weights_only=True)). A job's "
            "state_dict must hold only tensors, numbers, strings, lists and dicts."
        ) from err
    except (OSError, RuntimeError, EOFError, ValueError, LookupError, TypeError) as err:  # damaged file
        raise InvalidConfigError(f"Cannot read the checkpoint {path}: {err}") from err
    if not isinstance(payload, dict) or "job" not in payload or "epoch" not in payload:
        raise InvalidConfigError(f"{path} is not a meta-tune checkpoint (a dict with 'epoch' and 'job').")
    return payload


def select_device(requested: str | None = None) -> torch.device:
    """The torch device a trial should train on.

    Ray hides the GPUs a trial was not given (``CUDA_VISIBLE_DEVICES``), so CUDA is visible
    exactly when the trial asked for a GPU (``tune.with_resources(..., {"gpu": 0.5})`` or
    ``meta-tune run --gpus-per-trial``); otherwise the trial runs on the CPU.

    Args:
        requested: An explicit device (``"cpu"``, ``"cuda:0"``) that overrides the choice.
    """
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_threads() -> None:
    """Limit torch's CPU threads to the CPUs Ray assigned to this trial (all of them outside Ray).

    Without this, two 1-CPU trials on a 2-core machine each start one thread per core and
    slow each other down.
    """
    import ray

    if not ray.is_initialized():
        return
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))


def seeded_generator(seed: int) -> np.random.Generator:
    """Seed torch's global RNG with ``seed`` and return a numpy Generator seeded the same way."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def rng_state(numpy_rng: np.random.Generator) -> dict[str, Any]:
    """The RNG states a job must checkpoint to resume deterministically.

    Torch's states are byte tensors and numpy's is its plain ``bit_generator.state`` dict
    (strings and integers), so the whole is loadable with ``torch.load(weights_only=True)``.
    """
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": numpy_rng.bit_generator.state}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def load_rng_state(numpy_rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (into ``numpy_rng`` and torch's global RNGs)."""
    torch.set_rng_state(state["torch"])
    numpy_rng.bit_generator.state = state["numpy"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def training_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, numpy_rng: np.random.Generator
) -> dict[str, Any]:
    """The state of a torch training run: weights, optimizer and every RNG (see :func:`rng_state`)."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng_state(numpy_rng)}


def load_training_state(
    state: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    numpy_rng: np.random.Generator,
) -> None:
    """Restore what :func:`training_state` returned into ``model``, ``optimizer`` and the RNGs."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    load_rng_state(numpy_rng, state["rng"])
