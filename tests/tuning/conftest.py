"""What the tuning tests share: running the CLI on a fresh store, and a guard that Ray never starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import meta_tune.tuning
from meta_tune.cli._main import cli


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting Ray fails the test: every check must come before it."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray was started before the input was checked")

    monkeypatch.setattr(meta_tune.tuning, "ray_runtime", refuse)


def invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run ``meta-tune`` on a fresh store; its exit code and what it printed (errors included)."""
    result = CliRunner().invoke(cli, ["--store", f"sqlite:///{tmp_path / 'store.db'}", *args])
    message = str(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else ""
    return result.exit_code, result.output + message
