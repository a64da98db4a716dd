"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from meta_tune.priors import Prior

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray runtime (2 CPUs) for every test that needs Ray.

    Starting Ray costs ~3 s, so all Ray tests in one pytest process share it. Tests that
    need their own cluster (multi-node) run it in a subprocess instead.
    """
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def yahpo_dir() -> Path:
    """The YAHPO Gym data folder next to the repository (skips the test where it is absent)."""
    pytest.importorskip("onnxruntime")
    folder = SHARED_DIR / "data" / "yahpo"
    if not (folder / "lcbench" / "model.onnx").is_file():
        pytest.skip(f"YAHPO data not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def contract_prior() -> Prior:
    """A prior for the contract suite's space, from four noisy copies of its objective."""
    import numpy as np
    import pandas as pd

    import meta_tune.priors
    from meta_tune.space import SearchSpace, flatten
    from meta_tune.testing import CONTRACT_SPACE
    from meta_tune.testing._searcher_contract import objective

    rng = np.random.default_rng(0)
    space = SearchSpace.from_tune(CONTRACT_SPACE)
    rows = [
        {"task": f"t{t}", **flatten(c), "loss": objective(c) + rng.normal(0, 0.05)}
        for t in range(4)
        for c in space.sample(rng, 30)
    ]
    return meta_tune.priors.fit(
        pd.DataFrame(rows), space=CONTRACT_SPACE, metric="loss", mode="min", portfolio_size=4
    )
