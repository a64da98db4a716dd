"""Property tests of the unit-cube encoding over generated Tune search spaces."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from ray import tune

from meta_tune.space import SearchSpace
from tests.space.strategies import Leaf, subspace

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same_config(got: Any, want: Any, path: str = "") -> None:
    """Equal configs: same types everywhere; floats equal up to float round-off."""
    assert type(got) is type(want), f"{path}: {got!r} ({type(got).__name__}) != {want!r}"
    if isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for key in want:
            assert_same_config(got[key], want[key], f"{path}/{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_config(g, w, f"{path}/{i}")
    elif isinstance(want, float):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-10), f"{path}: {got!r} != {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


@st.composite
def space_and_config(draw: st.DrawFn) -> tuple[Leaf, SearchSpace, dict[str, Any]]:
    leaf = draw(subspace())
    return leaf, SearchSpace.from_tune(leaf.domain), draw(leaf.values)


@SETTINGS
@given(case=space_and_config(), categorical=st.sampled_from(["onehot", "ordinal"]))
def test_decode_of_encode_gives_the_config_back(case: Any, categorical: Any) -> None:
    leaf, space, config = case
    assert leaf.valid(config)  # the strategy itself is sound
    assert space.check(config) is None
    unit = space.encode(config, categorical)
    assert unit.shape == (space.dim(categorical),)
    assert np.all((unit >= 0) & (unit <= 1))
    assert_same_config(space.decode(unit, categorical), config)


@st.composite
def space_and_point(draw: st.DrawFn) -> tuple[Leaf, SearchSpace, str, np.ndarray]:
    leaf = draw(subspace())
    space = SearchSpace.from_tune(leaf.domain)
    categorical = draw(st.sampled_from(["onehot", "ordinal"]))
    unit = draw(hnp.arrays(float, space.dim(categorical), elements=st.floats(0.0, 1.0)))
    return leaf, space, categorical, unit


@SETTINGS
@given(case=space_and_point())
def test_any_point_decodes_to_a_valid_config(case: Any) -> None:
    leaf, space, categorical, unit = case
    config = space.decode(unit, categorical)
    # Judged by the strategy's own reading of Tune's semantics: bounds (exclusive upper
    # bound of randint), quantization, integrality, native Python types.
    assert leaf.valid(config), config
    assert space.check(config) is None


@SETTINGS
@given(leaf=subspace())
def test_json_round_trip_keeps_the_space_and_its_fingerprint(leaf: Leaf) -> None:
    space = SearchSpace.from_tune(leaf.domain)
    again = SearchSpace.from_json(space.to_json())
    assert again == space
    assert again.fingerprint == space.fingerprint
    assert SearchSpace.from_tune(space.to_tune()).fingerprint == space.fingerprint
    rng = np.random.default_rng(0)
    unit = rng.random((5, space.dim()))
    assert again.decode_many(unit) == space.decode_many(unit)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        (tune.randint(0, 5), {0, 1, 2, 3, 4}),
        (tune.qrandint(0, 10, 5), {0, 5, 10}),
        (tune.qrandint(1, 10, 3), {3, 6, 9}),
        (tune.lograndint(1, 5), {1, 2, 3, 4}),
        (tune.qlograndint(2, 10, 2), {2, 4, 6, 8, 10}),
        (tune.quniform(0.0, 0.5, 0.1), {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}),
        (tune.qloguniform(1, 4, 1), {1.0, 2.0, 3.0, 4.0}),
        (tune.choice(["a", 1, None]), {"a", 1, None}),
    ],
)
def test_decoded_values_are_exactly_the_values_tune_samples(domain: Any, expected: set[Any]) -> None:
    space = SearchSpace.from_tune({"x": domain})
    decoded = {c["x"] for c in space.decode_many(np.linspace(0, 1, 2001)[:, None], "ordinal")}
    tune_samples = set(domain.sample(size=3000, random_state=np.random.default_rng(0)))
    assert decoded == expected
    # Tune gives 3 * 0.1 = 0.30000000000000004 where meta-tune snaps to 0.3.
    assert {round(v, 12) if isinstance(v, float) else v for v in tune_samples} == expected


@pytest.mark.parametrize(
    "domain",
    [
        tune.uniform(-2, 3),
        tune.loguniform(1e-5, 1e-1),
        tune.quniform(-1, 1, 0.25),
        tune.randint(-3, 7),
        tune.lograndint(1, 1000),
        tune.qlograndint(4, 64, 4),
        tune.randn(2, 3),
        tune.qrandn(0, 1, 0.2),
        tune.qloguniform(1e-4, 1e-1, 1e-4),
    ],
)
def test_every_value_tune_samples_is_valid_and_round_trips(domain: Any) -> None:
    space = SearchSpace.from_tune({"x": domain})
    for sample in domain.sample(size=500, random_state=np.random.default_rng(1)):
        value = sample.item() if isinstance(sample, np.generic) else sample
        assert space.check({"x": value}) is None, value
        assert_same_config(space.decode(space.encode({"x": value}))["x"], value)


def test_sampling_follows_the_domain_distributions() -> None:
    space = SearchSpace.from_tune(
        {"log": tune.loguniform(1e-4, 1.0), "n": tune.randn(5, 2), "c": tune.choice(["a", "b", "c", "d"])}
    )
    configs = space.sample(np.random.default_rng(0), 20_000)
    logs = np.log10([c["log"] for c in configs])
    normals = np.array([c["n"] for c in configs])
    assert abs(np.mean(logs < -2) - 0.5) < 0.02  # log-uniform: half the mass below 1e-2
    assert abs(normals.mean() - 5) < 0.05 and abs(normals.std() - 2) < 0.05
    counts = np.unique([c["c"] for c in configs], return_counts=True)[1]
    assert counts.min() > 4700 and counts.max() < 5300
    again = space.sample(np.random.default_rng(0), 3)
    assert again == configs[:3]


def test_loguniform_base_does_not_change_the_encoding() -> None:
    with pytest.warns(Warning, match="base"):
        base2 = SearchSpace.from_tune({"x": tune.loguniform(1, 1024, base=2)})
    assert base2 == SearchSpace.from_tune({"x": tune.loguniform(1, 1024)})
    assert base2.decode([0.5])["x"] == pytest.approx(32.0)


LISTED = {
    "nested": [tune.randint(0, 3), tune.randint(0, 3)],  # one parameter per item
    "mixed": [tune.uniform(0, 1), "relu"],
    "sizes": tune.choice([[32, 32], [64]]),  # a choice whose values are lists: one column
    "layers": [64, 64],  # a constant list: one column
    "opt": tune.choice([{"name": "sgd", "momenta": [tune.uniform(0, 1), tune.uniform(0, 1)]}, "adam"]),
}


@SETTINGS
@given(
    case=st.one_of(
        space_and_config(),
        st.integers(0, 2**32 - 1).map(
            lambda seed: (
                None,
                SearchSpace.from_tune(LISTED),
                SearchSpace.from_tune(LISTED).sample(np.random.default_rng(seed), 1)[0],
            )
        ),
    )
)
def test_a_flattened_config_is_read_back_as_the_same_point(case: Any) -> None:
    """space.flatten (how the store writes history columns) and encode_flat (how priors read them) agree."""
    _, space, config = case
    flat = space.flatten(config)
    assert set(flat) <= set(space.flat_keys())
    unit, known = space.encode_flat([flat], "ordinal")
    # A history cannot tell a None category from a missing value: only those stay unknown.
    unknown = {name for name, sl in space.slices("ordinal").items() if not known[0, sl].all()}
    assert all(flat.get(name) is None for name in unknown), (unknown, flat)
    np.testing.assert_allclose(unit[0][known[0]], space.encode(config, "ordinal")[known[0]])


def test_lists_of_domains_flatten_to_one_key_per_item_and_other_lists_stay_whole() -> None:
    space = SearchSpace.from_tune(LISTED)
    config = {
        "nested": [2, 0],
        "mixed": [0.5, "relu"],
        "sizes": [32, 32],
        "layers": [64, 64],
        "opt": {"name": "sgd", "momenta": [0.1, 0.9]},
        "extra": {"note": [1, 2]},
    }
    assert space.flatten(config) == {
        "nested/0": 2,
        "nested/1": 0,
        "mixed/0": 0.5,
        "mixed/1": "relu",
        "sizes": [32, 32],
        "layers": [64, 64],
        "opt/name": "sgd",
        "opt/momenta/0": 0.1,
        "opt/momenta/1": 0.9,
        "extra/note": [1, 2],  # not in the space: flatten()'s rule
    }
    assert {"nested/0", "nested/1", "opt/momenta/0"} <= set(space.names)
    assert space.flatten({**config, "opt": "adam", "nested": [1, 1, 1]})["opt"] == "adam"
    assert space.flatten({**config, "nested": [1, 1, 1]})["nested"] == [1, 1, 1]  # does not fit: kept whole
