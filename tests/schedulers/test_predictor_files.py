"""Damaged CurvePredictor files: one clear InvalidConfigError naming the file, never a changed file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meta_tune.errors import InvalidConfigError
from meta_tune.schedulers import CurvePredictor
from tests.schedulers.conftest import STEPS, synthetic_curves

PREFIXES = ([0.5], [0.5, 0.6, 0.62], [0.4 + 0.01 * s for s in range(STEPS - 1)])


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, CurvePredictor]]:
    """The bytes of a fitted and of a parametric predictor file, with the predictors."""
    folder = tmp_path_factory.mktemp("predictors")
    fitted = CurvePredictor.fit(synthetic_curves(tasks=2, trials=10), metric="acc", mode="max")
    parametric = CurvePredictor.parametric(metric="loss", mode="min", max_t=12)
    out = {}
    for name, predictor in (("fitted", fitted), ("parametric", parametric)):
        predictor.save(folder / f"{name}.npz")
        out[name] = ((folder / f"{name}.npz").read_bytes(), predictor)
    return out


def assert_same(loaded: CurvePredictor, original: CurvePredictor) -> None:
    assert repr(loaded) == repr(original)
    assert (loaded.metric, loaded.mode, loaded.max_t, loaded.neighbors) == (
        original.metric,
        original.mode,
        original.max_t,
        original.neighbors,
    )
    for prefix in PREFIXES:
        steps = prefix[: original.max_t]
        np.testing.assert_array_equal(loaded.predict(steps).samples, original.predict(steps).samples)


def load_keeps_the_file(path: Path) -> CurvePredictor | InvalidConfigError:
    """Load ``path``; the predictor or the one error it raised. The file's bytes never change."""
    before = path.read_bytes() if path.is_file() else None
    try:
        result: CurvePredictor | InvalidConfigError = CurvePredictor.load(path)
    except InvalidConfigError as err:
        assert str(path) in str(err)
        result = err
    assert (path.read_bytes() if path.is_file() else None) == before
    return result


positions = st.integers(min_value=0)
flips = st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["fitted", "parametric"]), cut=positions, from_end=st.booleans())
def test_any_truncation_is_one_clear_error(
    saved: dict[str, tuple[bytes, CurvePredictor]], tmp_path: Path, which: str, cut: int, from_end: bool
) -> None:
    data, _ = saved[which]
    keep = cut % len(data)
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: len(data) - 1 - keep] if from_end else data[:keep])
    assert isinstance(load_keeps_the_file(path), InvalidConfigError)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["fitted", "parametric"]), changes=flips, near_end=st.booleans())
def test_any_corruption_loads_equal_or_is_one_clear_error(
    saved: dict[str, tuple[bytes, CurvePredictor]],
    tmp_path: Path,
    which: str,
    changes: list[tuple[int, int]],
    near_end: bool,
) -> None:
    data, original = saved[which]
    damaged = bytearray(data)
    # Half the examples hit the zip directory and headers at the end, where lengths and names live.
    window = min(len(data), 400) if near_end else len(data)
    for position, value in changes:
        damaged[len(data) - window + position % window] = value
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(damaged))
    result = load_keeps_the_file(path)
    if isinstance(result, CurvePredictor):  # the damage missed everything that matters
        assert_same(result, original)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_npy(path: Path, array: np.ndarray) -> Path:
    with path.open("wb") as f:
        np.save(f, array)
    return path


def write_npz(path: Path, **arrays: Any) -> Path:
    with path.open("wb") as f:
        np.savez(f, **arrays)
    return path


def header(**changes: Any) -> np.ndarray:
    fields = {"format": 1, "metric": "acc", "mode": "max", "max_t": 3, "neighbors": 1, "tasks": ["t"]}
    fields.update(changes)
    return np.array(json.dumps({k: v for k, v in fields.items() if v is not ...}))


class WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "ran"))


CURVES = np.array([[0.1, 0.2, 0.3]])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: write_bytes(p, b""), r"truncated, damaged or not an \.npz.*EOFError"),
        (lambda p: write_bytes(p, b"max_t = 20\n"), r"truncated, damaged or not an \.npz"),
        (lambda p: write_npy(p, CURVES), "it holds a single .npy array"),
        (lambda p: write_npz(p, curves=CURVES), r"KeyError: \"no 'header' array \(it holds \['curves'\]\)"),
        (lambda p: write_npz(p, header=np.array("[1, 2]")), "its header is list, not a JSON object"),
        (lambda p: write_npz(p, header=np.array("{broken")), "JSONDecodeError"),
        (lambda p: write_npz(p, header=header(format=7), curves=CURVES), "its format is 7"),
        (lambda p: write_npz(p, header=header(tasks=...), curves=CURVES), r"its header lacks \['tasks'\]"),
        (lambda p: write_npz(p, header=header(mode="up"), curves=CURVES), "mode is 'up'"),
        (lambda p: write_npz(p, header=header(max_t="3"), curves=CURVES), "max_t is '3', not an integer"),
        (lambda p: write_npz(p, header=header()), "disagree on whether it holds curves"),
        (
            lambda p: write_npz(p, header=header(tasks=["a", "b"]), curves=CURVES),
            "names 2 tasks for 1 curves",
        ),
        (lambda p: write_npz(p, header=header(max_t=5), curves=CURVES), r"curves must have shape"),
        (lambda p: write_npz(p, header=header(), curves=CURVES * np.nan), "NaN or infinite"),
        (lambda p: write_npz(p, header=header(), curves=CURVES.astype(np.float32)), "float32, not float64"),
    ],
    ids=lambda v: "" if callable(v) else v[:30],
)
def test_wrong_format_and_incomplete_files_say_what_is_wrong(tmp_path: Path, make: Any, match: str) -> None:
    path = make(tmp_path / "predictor.npz")
    result = load_keeps_the_file(path)
    assert isinstance(result, InvalidConfigError)
    with pytest.raises(InvalidConfigError, match=match):
        CurvePredictor.load(path)


def test_a_pickled_array_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload = np.array([WritesMarker(marker)], dtype=object)
    path = write_npz(tmp_path / "predictor.npz", header=header(), curves=payload)
    pickle.loads(pickle.dumps(WritesMarker(tmp_path / "control")))  # the payload works when unpickled
    assert (tmp_path / "control").exists()
    with pytest.raises(InvalidConfigError, match="Object arrays cannot be loaded when allow_pickle=False"):
        CurvePredictor.load(path)
    assert not marker.exists()


def test_a_saved_predictor_round_trips(
    saved: dict[str, tuple[bytes, CurvePredictor]], tmp_path: Path
) -> None:
    for name, (data, original) in saved.items():
        (tmp_path / f"{name}.npz").write_bytes(data)
        loaded = load_keeps_the_file(tmp_path / f"{name}.npz")
        assert isinstance(loaded, CurvePredictor)
        assert_same(loaded, original)
        assert loaded.is_parametric == (name == "parametric")
