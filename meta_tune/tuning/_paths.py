"""Output paths checked before any work: a run must not fail at its end for want of a folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from meta_tune.errors import InvalidConfigError


def check_writable_folder(path: Path, what: str) -> None:
    """Raise unless a folder can be written at ``path`` (made there if it does not exist).

    Nothing is left behind: a missing folder is not created, a temporary file is written in
    its nearest existing parent instead and deleted at once.

    Args:
        path: The folder.
        what: Which option or setting gave it (``--out``), for the message.

    Raises:
        InvalidConfigError: ``path`` (or a parent) is a file, or the folder cannot be written.
    """
    path = path.expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidConfigError(
            f"{what}: cannot write to the folder {path}: {existing} is a file, not a folder. "
            "Give another folder."
        )
    try:
        handle, name = tempfile.mkstemp(prefix=".meta_tune_check_", dir=existing)
    except OSError as err:
        raise InvalidConfigError(
            f"{what}: cannot write to the folder {path}: {err.strerror or err} in {existing}. "
            "Give a folder you can write to."
        ) from None
    os.close(handle)
    os.unlink(name)


def check_writable_file(path: Path, what: str) -> None:
    """Raise unless the file ``path`` can be written (its folder made if need be).

    Args:
        path: The file.
        what: Which option gave it (``-o``), for the message.

    Raises:
        InvalidConfigError: ``path`` is a folder, an existing file that cannot be written, or
            its folder cannot be written.
    """
    path = path.expanduser()
    if path.is_dir():
        raise InvalidConfigError(f"{what}: {path} is a folder; give a file name (e.g. {path / 'out'}).")
    check_writable_folder(path.parent, what)
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidConfigError(f"{what}: cannot write to {path}: it is read-only. Give another file.")
