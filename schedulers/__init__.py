"""meta-tune's Ray Tune trial schedulers (installed as ``meta_tune.schedulers``).

Meta-learned early stopping from past learning curves (:class:`MetaStoppingScheduler` with
its :class:`CurvePredictor`), ASHA/HyperBand configured from past curves
(:func:`asha_from_history`), and Ray's own schedulers re-exported so that one import serves:
``ASHAScheduler``, ``HyperBandScheduler``, ``PopulationBasedTraining``, ``PB2`` (needs
scikit-learn), ``MedianStoppingRule`` and ``FIFOScheduler``. Everything but the registry is
loaded on first use (Ray's schedulers import Ray Tune).

meta-tune's schedulers and Ray's it combines them with have names in one registry
(:func:`names`, :func:`get`, :func:`build`) that ``meta-tune run``, experiment files and
``meta-tune bench`` read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meta_tune.schedulers._registry import SchedulerArgs, SchedulerEntry, build, get, names

if TYPE_CHECKING:
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
    from ray.tune.schedulers.pb2 import PB2

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
    "SchedulerArgs",
    "SchedulerEntry",
    "build",
    "get",
    "names",
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

_RAY = ("ASHAScheduler", "AsyncHyperBandScheduler", "FIFOScheduler", "HyperBandForBOHB", "HyperBandScheduler",
        "MedianStoppingRule", "PopulationBasedTraining", "TrialScheduler")
_LAZY = {
    **{name: "ray.tune.schedulers" for name in _RAY},
    # PB2 imports scikit-learn's GP at import time; Ray loads it lazily too.
    "PB2": "ray.tune.schedulers.pb2",
    "CurvePredictor": f"{__name__}._curves",
    "FinalDistribution": f"{__name__}._curves",
    "MetaStoppingScheduler": f"{__name__}._meta_stopping",
    "ASHAChoice": f"{__name__}._prior_asha",
    "asha_from_history": f"{__name__}._prior_asha",
    "choose_asha": f"{__name__}._prior_asha",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
