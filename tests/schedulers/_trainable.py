"""A Tune function trainable that reports a synthetic learning curve, with checkpoints."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ray import tune

STEPS = 20


def curve_trainable(config: dict[str, Any]) -> None:
    """Accuracy rising to ``0.5 + 0.4 * quality``; resumes from its checkpoint after a pause."""
    start = 1
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = json.loads((Path(folder) / "state.json").read_text())["step"] + 1
    final = 0.5 + 0.4 * config["quality"]
    for step in range(start, STEPS + 1):
        acc = final - 0.3 * (step**-0.8 - STEPS**-0.8)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps({"step": step}))
            tune.report({"acc": acc}, checkpoint=tune.Checkpoint.from_directory(folder))
