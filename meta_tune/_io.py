"""Files meta-tune keeps: crash-safe writes of persisted state (priors, predictors) and the cache folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Write a file through a temporary name and rename it, so a crash never leaves half a file.

    Args:
        path: The file to (over)write; its folder is created if missing.
        write: Called with the open binary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Moves meta-tune's cache folder (benchmark bounds, fitted shipped priors).
CACHE_ENV = "MT_CACHE_DIR"


def cache_root() -> Path:
    """meta-tune's cache folder (benchmark bounds, fitted shipped priors).

    ``$MT_CACHE_DIR``, else ``$XDG_CACHE_HOME/meta_tune``, else ``~/.cache/meta_tune``.

    Everything in it can be rebuilt: delete it to reclaim the space.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "meta_tune"
