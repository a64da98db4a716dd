"""Damaged prior files: one clear error, never a traceback of numpy or zipfile, never a changed file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior
from tests.priors.test_cost import fit, make_history


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Prior]:
    folder = tmp_path_factory.mktemp("prior")
    prior = fit(make_history(n_tasks=3, n_trials=20))
    prior.save(folder / "prior.json")
    return folder, prior


def damage(data: bytes, cut: int | None, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data if cut is None else data[: cut % (len(data) + 1)])
    for position, value in flips:
        if out:
            out[position % len(out)] = value
    return bytes(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(["prior.json", "prior.npz"]),
    cut=st.none() | st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
)
def test_a_damaged_prior_loads_equal_or_raises_one_clear_error(
    saved: tuple[Path, Prior],
    tmp_path_factory: pytest.TempPathFactory,
    which: str,
    cut: int | None,
    flips: list,
) -> None:
    source, prior = saved
    folder = tmp_path_factory.mktemp("damaged")
    for name in ("prior.json", "prior.npz"):
        shutil.copy(source / name, folder / name)
    (folder / which).write_bytes(damage((source / which).read_bytes(), cut, flips))
    before = {name: (folder / name).read_bytes() for name in ("prior.json", "prior.npz")}
    try:
        again = Prior.load(folder / "prior.json")
    except InvalidConfigError as err:
        assert "prior.json" in str(err)
    else:  # the damage missed everything that matters (e.g. JSON whitespace)
        assert again.task_names == prior.task_names
        assert again.sample(5, np.random.default_rng(0)) == prior.sample(5, np.random.default_rng(0))
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_a_missing_array_file_or_task_says_which(saved: tuple[Path, Prior], tmp_path: Path) -> None:
    source, _ = saved
    shutil.copy(source / "prior.json", tmp_path / "prior.json")
    with pytest.raises(InvalidConfigError, match=r"Cannot read the prior .*prior\.npz.*missing, damaged"):
        Prior.load(tmp_path / "prior.json")
    np.savez(tmp_path / "prior.npz", unit_0=np.zeros((2, 2)))  # another prior's arrays
    with pytest.raises(InvalidConfigError, match=r"prior\.json or .*prior\.npz was changed or damaged"):
        Prior.load(tmp_path / "prior.json")
    document = json.loads((tmp_path / "prior.json").read_text())
    document.update(format=2)  # an older file, without a checksum: the missing task's arrays are named
    del document["checksum"]
    (tmp_path / "prior.json").write_text(json.dumps(document))
    with pytest.raises(InvalidConfigError, match="KeyError: 'known_0'"):
        Prior.load(tmp_path / "prior.json")
