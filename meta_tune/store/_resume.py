"""Resume a Tune run whose driver died, or start it: the path ``StoreCallback`` keeps exact."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

logger = logging.getLogger(__name__)


def has_experiment_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether Tune wrote an experiment checkpoint (``experiment_state-*.json``) in ``path``.

    ``Tuner.can_restore`` only looks for ``tuner.pkl``, which Tune writes before its first
    experiment checkpoint: a run killed in between passes that check but cannot be restored.
    """
    folder = Path(path).expanduser()
    return (folder / "tuner.pkl").is_file() and any(folder.glob("experiment_state-*.json"))


def restore_or_start(
    path: str | os.PathLike[str],
    trainable: Any,
    *,
    start: Callable[[], tune.Tuner],
    resume_unfinished: bool = True,
    resume_errored: bool = False,
    restart_errored: bool = False,
) -> tune.Tuner:
    """Resume the Tune run at ``path`` where it stopped, or start it (``start()``) if there is none.

    A run whose driver died before Tune's first experiment checkpoint has nothing to resume
    (Tune itself fails on it with "no search space has been defined"); it is started over,
    with a log line saying so. ``StoreCallback`` records every trial once either way.

    Args:
        path: The run's folder (``<storage_path>/<name>``).
        trainable: The trainable, as given to the original ``Tuner``.
        start: Builds the ``Tuner`` of a new run (same name and storage path).
        resume_unfinished: Resume trials that had not finished (``Tuner.restore``'s option).
        resume_errored: Resume errored trials from their last checkpoint.
        restart_errored: Run errored trials again from scratch.

    Returns:
        A Tuner to call ``fit()`` on.
    """
    folder = Path(path).expanduser()
    if has_experiment_checkpoint(folder):
        logger.info("Resuming the Tune run at %s", folder)
        return tune.Tuner.restore(
            str(folder),
            trainable,
            resume_unfinished=resume_unfinished,
            resume_errored=resume_errored,
            restart_errored=restart_errored,
        )
    if folder.exists():
        logger.warning(
            "The Tune run at %s stopped before Tune's first experiment checkpoint, so there is nothing "
            "to resume: starting it over.",
            folder,
        )
    return start()
