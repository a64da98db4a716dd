"""Prior.plot: categories in the order of their values, each parameter on its own scale, a legend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ray import tune

import meta_tune.priors
from meta_tune.priors import Prior
from meta_tune.priors._plot import BESTS_LABEL, SAMPLES_LABEL, category_order
from meta_tune.space import SearchSpace, flatten

SPACE = {
    "batch_size": tune.choice([32, 64, 128, 256]),
    "lr": tune.loguniform(1e-4, 1e-1),
    "width": tune.randint(8, 64),
    "act": tune.choice(["tanh", "relu", "elu"]),
}


@pytest.fixture(scope="module")
def prior() -> Prior:
    rng = np.random.default_rng(0)
    rows = []
    for t in range(4):
        for config in SearchSpace.from_tune(SPACE).sample(rng, 30):
            loss = abs(np.log10(config["lr"]) + 2) + (config["batch_size"] != 128) + rng.random() * 0.1
            rows.append({"task": f"t{t}", **flatten(config), "loss": loss})
    return meta_tune.priors.fit(pd.DataFrame(rows), space=SPACE, metric="loss", mode="min")


@pytest.fixture(scope="module")
def axes(prior: Prior, tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("matplotlib")
    path = tmp_path_factory.mktemp("plot") / "prior.png"
    fig = prior.plot(path, n_samples=300)
    assert path.read_bytes()[:4] == b"\x89PNG"
    return {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}


def test_every_parameter_has_a_titled_panel(axes: dict, prior: Prior) -> None:
    assert sorted(axes) == sorted(prior.space.names)
    for ax in axes.values():
        assert ax.get_xlabel() and ax.get_ylabel()


def test_numeric_categories_are_in_numeric_order(axes: dict) -> None:
    labels = [t.get_text() for t in axes["batch_size"].get_xticklabels()]
    assert labels == ["32", "64", "128", "256"]


def test_text_categories_keep_their_declared_order(axes: dict) -> None:
    assert [t.get_text() for t in axes["act"].get_xticklabels()] == ["tanh", "relu", "elu"]


def test_each_axis_is_on_the_parameters_scale(axes: dict) -> None:
    assert axes["lr"].get_xscale() == "log"
    assert "log" in axes["lr"].get_xlabel()
    assert axes["width"].get_xscale() == "linear"
    # The log histogram spans the samples: its bins are equally wide in log space.
    edges = sorted({p.get_x() for p in axes["lr"].patches})
    assert np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))


def test_every_mark_is_in_a_legend(axes: dict) -> None:
    for name, ax in axes.items():
        legend = ax.get_legend()
        assert legend is not None, name
        assert sorted(t.get_text() for t in legend.get_texts()) == sorted([SAMPLES_LABEL, BESTS_LABEL]), name


def test_the_figure_says_what_it_shows(prior: Prior) -> None:
    pytest.importorskip("matplotlib")
    fig = prior.plot(None, n_samples=100)
    assert "100 samples" in fig.get_suptitle() and "4 history task(s)" in fig.get_suptitle()


@pytest.mark.parametrize(
    ("values", "declared", "expected"),
    [
        ([128, 32], (32, 64, 128, 256, 1024), [32, 64, 128, 256, 1024]),
        ([0.5, 0.25], (), [0.25, 0.5]),
        (["b"], ("c", "a", "b"), ["c", "a", "b"]),
        (["z", "x"], ("c",), ["c", "x", "z"]),
        ([True, False], (True, False), [True, False]),
        ([1, "a"], (1, "a"), [1, "a"]),
    ],
)
def test_category_order(values: list, declared: tuple, expected: list) -> None:
    assert category_order(values, declared) == expected
