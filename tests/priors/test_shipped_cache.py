"""The on-disk cache of refitted shipped priors: hits, misses, damaged entries, off switch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ray import tune

from meta_tune.priors import Prior, shipped
from meta_tune.priors._cache import CACHE_ENV, cache_dir

SPACE = {"ccp_alpha": tune.loguniform(1e-3, 0.5), "max_depth": tune.randint(2, 20)}
#: A small portfolio keeps each refit near a second.
OPTIONS: dict[str, Any] = {"portfolio_size": 4}


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.json"))


def _call(cache: Path, space: dict[str, Any] = SPACE, **more: Any) -> Prior:
    return shipped("decision_tree", space=space, cache=cache, **OPTIONS, **more)


def test_the_same_refit_again_is_a_cache_hit(tmp_path: Path) -> None:
    started = time.perf_counter()
    first = _call(tmp_path)
    fit_s = time.perf_counter() - started
    assert len(_entries(tmp_path)) == 1
    started = time.perf_counter()
    again = _call(tmp_path)
    hit_s = time.perf_counter() - started
    assert again is not first
    assert again.portfolio == first.portfolio
    assert again.task_names == first.task_names
    assert hit_s < fit_s / 3, (hit_s, fit_s)
    assert len(_entries(tmp_path)) == 1


def test_a_changed_space_names_or_history_misses(tmp_path: Path) -> None:
    _call(tmp_path)
    _call(tmp_path, space={**SPACE, "max_depth": tune.randint(2, 12)})
    assert len(_entries(tmp_path)) == 2
    renamed = {"alpha": SPACE["ccp_alpha"], "max_depth": SPACE["max_depth"]}
    _call(tmp_path, space=renamed, names={"ccp_alpha": "alpha"})
    assert len(_entries(tmp_path)) == 3
    history = pd.DataFrame({"task": ["mine/a"] * 4, "ccp_alpha": [0.001, 0.01, 0.1, 0.4],
                            "max_depth": [3, 5, 8, 12], "acc": [0.9, 0.85, 0.7, 0.6]})
    _call(tmp_path, history=history, metric="acc")
    history.loc[0, "acc"] = 0.95
    _call(tmp_path, history=history, metric="acc")
    assert len(_entries(tmp_path)) == 5


@pytest.mark.parametrize("damage", ["json", "npz"])
def test_a_damaged_entry_is_refitted_and_overwritten(tmp_path: Path, damage: str) -> None:
    first = _call(tmp_path)
    [entry] = tmp_path.glob("*.json")
    arrays = entry.with_suffix(".npz")
    if damage == "json":
        entry.write_text('{"format": 3, "truncated')
    else:
        data = bytearray(arrays.read_bytes())
        data[len(data) // 2] ^= 0xFF
        arrays.write_bytes(bytes(data))
    again = _call(tmp_path)
    assert again.portfolio == first.portfolio
    third = _call(tmp_path)  # the entry was rewritten whole: a hit again
    assert third.portfolio == first.portfolio
    assert _entries(tmp_path) == [entry.name] and arrays.exists()


def test_the_cache_can_be_relocated_or_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "moved"))
    assert cache_dir() == tmp_path / "moved" / "priors"
    shipped("decision_tree", space=SPACE, **OPTIONS)
    assert len(_entries(tmp_path / "moved" / "priors")) == 1
    monkeypatch.setenv(CACHE_ENV, "off")
    assert cache_dir() is None
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.delenv("MT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "meta_tune" / "priors"
    assert cache_dir(False) is None and cache_dir(tmp_path / "x") == tmp_path / "x"
    shipped("decision_tree", space=SPACE, cache=False, **OPTIONS)
    assert not (tmp_path / "xdg").exists()


def test_an_unwritable_cache_still_gives_the_prior(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    prior = _call(blocker / "cache")
    assert len(prior.portfolio) == 4
