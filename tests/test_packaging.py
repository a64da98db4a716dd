"""The package installs in the design-card layout: everything under meta_tune/, nothing generic."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# Folders whose .py files install under meta_tune/<name>/ through setup.cfg's package_dir.
SOURCE_DIRS = {"meta_tune": "meta_tune", "searchers": "meta_tune/searchers",
               "schedulers": "meta_tune/schedulers", "trainables": "meta_tune/trainables"}


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Build an sdist, then a wheel from it (as pip would), and list the wheel's files."""
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO_ROOT)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.mark.integration
def test_wheel_installs_only_the_meta_tune_namespace(wheel_files: set[str]) -> None:
    top_level = {name.split("/")[0] for name in wheel_files}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"meta_tune"}
    for module in ["meta_tune/__init__.py", "meta_tune/py.typed", "meta_tune/searchers/__init__.py",
                   "meta_tune/schedulers/__init__.py", "meta_tune/trainables/__init__.py",
                   "meta_tune/space/_space.py"]:
        assert module in wheel_files
    # The shipped tuning histories, one per family.
    for family in ["image", "text", "rl", "meta"]:
        assert f"meta_tune/data/{family}.parquet" in wheel_files


@pytest.mark.integration
def test_wheel_holds_every_module_of_the_source_tree(wheel_files: set[str]) -> None:
    # A subpackage missing from setup.cfg's explicit package list would silently be left out.
    expected = set()
    for folder, installed in SOURCE_DIRS.items():
        for path in (REPO_ROOT / folder).rglob("*.py"):
            rel = path.relative_to(REPO_ROOT / folder).as_posix()
            expected.add(f"{installed}/{rel}")
    missing = sorted(expected - wheel_files)
    assert not missing, f"add these packages to setup.cfg [options] packages: {missing}"


def test_console_script_is_declared() -> None:
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "meta-tune"]
    assert script.value == "meta_tune.cli:main"


def test_core_import_stays_light() -> None:
    code = "import sys, meta_tune, meta_tune.space; print(sorted(m for m in ('ray', 'torch', 'sqlalchemy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    assert Path(REPO_ROOT / "meta_tune" / "py.typed").exists()
