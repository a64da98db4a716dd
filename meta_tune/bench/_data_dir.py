"""Where the YAHPO Gym data folder is: an explicit folder, ``MT_YAHPO_DIR``, or beside the repository."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from meta_tune.errors import InvalidConfigError

logger = logging.getLogger(__name__)

DATA_ENV = "MT_YAHPO_DIR"

#: The folder, relative to the repository's parent or the current directory's parent, that
#: the project's checkouts share (``../shared/data/yahpo``).
SHARED_RELATIVE = Path("..") / "shared" / "data" / "yahpo"

# The root of a source checkout (meta_tune/bench/ -> the repository); in an installed wheel
# this is site-packages, where the shared folder is simply not found.
_REPO_ROOT = Path(__file__).resolve().parents[2]

DATA_SOURCE = (
    "The surrogates come from the public yahpo_data repository, release v1.0.2 "
    "(https://github.com/slds-lmu/yahpo_data/releases/tag/v1.0.2): download it and pass "
    f"data_dir=... (meta-tune bench --data-dir) or set the environment variable {DATA_ENV} to the "
    "folder that holds one sub-folder per scenario (rbv2_xgboost/, lcbench/, ...)."
)


def default_yahpo_locations() -> list[Path]:
    """The folders tried when neither a folder nor ``MT_YAHPO_DIR`` is given, in order.

    ``../shared/data/yahpo`` relative to the repository meta-tune was loaded from, then
    relative to the current directory (duplicates dropped).
    """
    candidates = [(_REPO_ROOT / SHARED_RELATIVE).resolve(), (Path.cwd() / SHARED_RELATIVE).resolve()]
    return list(dict.fromkeys(candidates))


def find_yahpo_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The YAHPO Gym data folder: ``data_dir``, else ``MT_YAHPO_DIR``, else the shared folder.

    Args:
        data_dir: A folder given explicitly (``load_scenario(data_dir=...)``, ``meta-tune
            bench --data-dir``); it must exist.

    Returns:
        The folder, resolved; it holds one sub-folder per scenario.

    Raises:
        InvalidConfigError: The given folder (or ``MT_YAHPO_DIR``'s) does not exist, or
            none was given and none of :func:`default_yahpo_locations` exists; the message
            lists where it looked and where the data comes from.
    """
    if data_dir is not None:
        return _existing(Path(data_dir), "")
    env = os.environ.get(DATA_ENV)
    if env:
        return _existing(Path(env), f" (from {DATA_ENV})")
    tried = default_yahpo_locations()
    for folder in tried:
        if folder.is_dir():
            logger.info("Using the YAHPO data folder %s (neither data_dir nor %s given).", folder, DATA_ENV)
            return folder
    looked = ", ".join(repr(str(f)) for f in tried)
    raise InvalidConfigError(
        f"No YAHPO data folder found: no data_dir given, {DATA_ENV} is unset, and none of {looked} "
        f"exists. {DATA_SOURCE}"
    )


def _existing(folder: Path, source: str) -> Path:
    root = folder.expanduser().resolve()
    if not root.is_dir():
        raise InvalidConfigError(f"The YAHPO data folder {str(root)!r}{source} does not exist. {DATA_SOURCE}")
    return root
