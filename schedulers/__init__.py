"""meta-tune's Ray Tune trial schedulers (installed as ``meta_tune.schedulers``).

Meta-learned early stopping from past learning curves (:class:`MetaStoppingScheduler` with
its :class:`CurvePredictor`), ASHA/HyperBand configured from past curves
(:func:`asha_from_history`), and Ray's own schedulers re-exported so that one import serves:
``ASHAScheduler``, ``HyperBandScheduler``, ``PopulationBasedTraining``, ``PB2`` (needs
scikit-learn, loaded on first use), ``MedianStoppingRule`` and ``FIFOScheduler``.
"""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import (
    ASHAScheduler,
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    TrialScheduler,
)

from meta_tune.schedulers._curves import CurvePredictor, FinalDistribution
from meta_tune.schedulers._meta_stopping import MetaStoppingScheduler
from meta_tune.schedulers._prior_asha import ASHAChoice, asha_from_history, choose_asha

__all__ = [
    # meta-tune
    "ASHAChoice",
    "CurvePredictor",
    "FinalDistribution",
    "MetaStoppingScheduler",
    "asha_from_history",
    "choose_asha",
    # Ray Tune's, re-exported
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "FIFOScheduler",
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PB2",
    "PopulationBasedTraining",
    "TrialScheduler",
]


def __getattr__(name: str) -> Any:
    # PB2 imports scikit-learn's GP at import time; Ray loads it lazily too.
    if name == "PB2":
        from ray.tune.schedulers.pb2 import PB2

        return PB2
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
