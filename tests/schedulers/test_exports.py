"""One import serves: meta-tune's schedulers beside Ray's own."""

from __future__ import annotations

import pytest
import ray.tune.schedulers as ray_schedulers

import meta_tune.schedulers


def test_rays_schedulers_are_re_exported() -> None:
    for name in ["ASHAScheduler", "HyperBandScheduler", "PopulationBasedTraining", "MedianStoppingRule",
                 "FIFOScheduler", "TrialScheduler"]:
        assert getattr(meta_tune.schedulers, name) is getattr(ray_schedulers, name)
    from ray.tune.schedulers.pb2 import PB2

    assert meta_tune.schedulers.PB2 is PB2
    assert set(meta_tune.schedulers.__all__) >= {"MetaStoppingScheduler", "CurvePredictor", "asha_from_history",
                                                 "PB2"}
    with pytest.raises(AttributeError, match="has no attribute 'SMAC'"):
        _ = meta_tune.schedulers.SMAC
