"""Finding the YAHPO data folder: explicit folder > MT_YAHPO_DIR > ../shared/data/yahpo."""

from __future__ import annotations

from pathlib import Path

import pytest

from meta_tune.bench import _data_dir, find_yahpo_dir, load_scenario
from meta_tune.errors import InvalidConfigError


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository and a working directory with no shared folder beside them, no MT_YAHPO_DIR."""
    repo, cwd = tmp_path / "a" / "repo", tmp_path / "b" / "work"
    repo.mkdir(parents=True)
    cwd.mkdir(parents=True)
    monkeypatch.setattr(_data_dir, "_REPO_ROOT", repo)
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("MT_YAHPO_DIR", raising=False)
    return tmp_path


def _shared(root: Path) -> Path:
    folder = root / "shared" / "data" / "yahpo"
    folder.mkdir(parents=True)
    return folder


def test_the_explicit_folder_wins_over_the_environment(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given, env = elsewhere / "given", elsewhere / "env"
    given.mkdir()
    env.mkdir()
    _shared(elsewhere / "a")
    monkeypatch.setenv("MT_YAHPO_DIR", str(env))
    assert find_yahpo_dir(given) == given.resolve()
    assert find_yahpo_dir() == env.resolve()


def test_the_environment_wins_over_the_shared_folder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = elsewhere / "env"
    env.mkdir()
    _shared(elsewhere / "a")
    monkeypatch.setenv("MT_YAHPO_DIR", str(env))
    assert find_yahpo_dir() == env.resolve()


def test_shared_folder_beside_the_repository(elsewhere: Path) -> None:
    folder = _shared(elsewhere / "a")
    assert find_yahpo_dir() == folder.resolve()


def test_shared_folder_beside_the_current_directory(elsewhere: Path) -> None:
    folder = _shared(elsewhere / "b")
    assert find_yahpo_dir() == folder.resolve()


def test_the_repository_comes_before_the_current_directory(elsewhere: Path) -> None:
    beside_repo = _shared(elsewhere / "a")
    _shared(elsewhere / "b")
    assert find_yahpo_dir() == beside_repo.resolve()


def test_nothing_found_lists_every_place_it_looked(elsewhere: Path) -> None:
    with pytest.raises(InvalidConfigError) as err:
        find_yahpo_dir()
    message = str(err.value)
    assert "MT_YAHPO_DIR is unset" in message
    for root in ("a", "b"):
        assert str((elsewhere / root / "shared" / "data" / "yahpo").resolve()) in message
    assert "yahpo_data" in message and "v1.0.2" in message


def test_a_missing_explicit_folder_is_an_error_even_with_a_shared_one(elsewhere: Path) -> None:
    _shared(elsewhere / "a")
    with pytest.raises(InvalidConfigError, match=r"nowhere.* does not exist.*MT_YAHPO_DIR"):
        find_yahpo_dir(elsewhere / "nowhere")


def test_a_missing_environment_folder_names_the_variable(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shared(elsewhere / "a")
    monkeypatch.setenv("MT_YAHPO_DIR", str(elsewhere / "nowhere"))
    with pytest.raises(InvalidConfigError, match=r"nowhere' \(from MT_YAHPO_DIR\) does not exist"):
        find_yahpo_dir()


def test_load_scenario_finds_the_shared_folder(yahpo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The repository's own ../shared/data/yahpo, without data_dir or MT_YAHPO_DIR.
    monkeypatch.delenv("MT_YAHPO_DIR", raising=False)
    assert load_scenario("lcbench").data_dir == yahpo_dir.resolve() / "lcbench"
