"""Tuning runs: experiment files, one run, history collection, searchers side by side.

The CLI commands ``meta-tune run``, ``collect`` and ``demo`` are thin shells over these.
"""

from __future__ import annotations

from meta_tune.tuning._collect import collect
from meta_tune.tuning._compare import (
    best_at_seconds,
    best_at_trials,
    compare,
    held_out_history,
    plot_comparison,
    trials_to_reach,
)
from meta_tune.tuning._experiment import DEFAULT_STORAGE_PATH, Experiment, load_experiment, parse_space
from meta_tune.tuning._run import RunOutcome, default_concurrency, ray_runtime, run_experiment, tune_task
from meta_tune.tuning._searchers import fit_prior
from meta_tune.tuning._shipped import SHIPPED_DIR, load_shipped, shipped_archive

__all__ = [
    "DEFAULT_STORAGE_PATH", "SHIPPED_DIR", "Experiment", "RunOutcome", "best_at_seconds", "best_at_trials",
    "collect", "compare", "default_concurrency", "fit_prior", "held_out_history", "load_experiment",
    "load_shipped", "parse_space", "plot_comparison", "ray_runtime", "run_experiment", "shipped_archive",
    "trials_to_reach", "tune_task",
]
