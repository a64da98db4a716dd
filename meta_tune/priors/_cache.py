"""An on-disk cache of fitted priors, keyed by a SHA-256 of everything a fit depends on.

Refitting a shipped prior for a user's space takes seconds; the same space again (the next
run, the next process) should not pay it twice. An entry is a prior written by
:meth:`Prior.save` (JSON + ``.npz`` with a checksum; nothing is pickled), named by the key.
A damaged or unreadable entry is refitted and overwritten, and an unwritable cache only
logs a warning: the cache never stops a fit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from meta_tune._io import cache_root
from meta_tune.priors._prior import _FORMAT, Prior, fit
from meta_tune.space import SearchSpace

logger = logging.getLogger(__name__)

#: Turns the prior cache off (``0``, ``off``, ``false`` or ``no``); ``MT_CACHE_DIR`` moves it.
CACHE_ENV = "MT_PRIOR_CACHE"
#: Bumped when what an entry means changes in a way no hashed input shows.
_CACHE_VERSION = 1
_OFF = frozenset({"0", "off", "false", "no"})


def cache_dir(cache: bool | str | os.PathLike[str] | None = None) -> Path | None:
    """The folder fitted priors are cached in, or None when caching is off.

    Args:
        cache: False: off; a path: that folder; None or True: ``priors/`` in meta-tune's
            cache folder (:func:`meta_tune._io.cache_root`: ``$MT_CACHE_DIR``, else
            ``~/.cache/meta_tune``), unless ``$MT_PRIOR_CACHE`` turns it off.
    """
    if cache is False:
        return None
    if cache is not None and cache is not True:
        return Path(cache).expanduser()
    if os.environ.get(CACHE_ENV, "").strip().lower() in _OFF:
        return None
    return cache_root() / "priors"


def fit_cached(
    history: pd.DataFrame,
    space: SearchSpace,
    *,
    metric: str,
    mode: Literal["min", "max"],
    key: Mapping[str, Any],
    cache: bool | str | os.PathLike[str] | None = None,
    **options: Any,
) -> Prior:
    """:func:`meta_tune.priors.fit` of ``history`` for ``space``, through the cache.

    The entry's name is a SHA-256 of the history's contents, the canonical space, the
    metric, mode and options, the prior file format, the source of the code that fits
    (``meta_tune.priors`` and ``meta_tune.space``) and ``key`` (the caller's other inputs,
    e.g. the shipped files' hashes).

    Args:
        history: What :func:`~meta_tune.priors.fit` learns from.
        space: The target space.
        metric: The history's metric column.
        mode: Its mode.
        key: More JSON-able inputs the prior depends on.
        cache: See :func:`cache_dir`.
        **options: Fields of :class:`~meta_tune.priors.PriorConfig`.
    """
    folder = cache_dir(cache)
    if folder is None:
        return fit(history, space=space, metric=metric, mode=mode, **options)
    digest = cache_key(history, space, metric=metric, mode=mode, key=key, options=options)
    path = folder / f"{digest}.json"
    if path.exists():
        try:
            prior = Prior.load(path)
            if prior.space.fingerprint == space.fingerprint and (prior.metric, prior.mode) == (metric, mode):
                logger.info("Loaded the prior from the cache: %s", path)
                return prior
            logger.warning("The cached prior %s is for another space or metric; fitting it again.", path)
        except Exception as err:  # a damaged entry must never stop a fit: refit and overwrite it
            logger.warning("Ignoring the unreadable cached prior %s (%s); fitting it again.", path, err)
    prior = fit(history, space=space, metric=metric, mode=mode, **options)
    try:
        prior.save(path)
        logger.info("Cached the prior in %s", path)
    except OSError as err:
        logger.warning("Could not cache the prior in %s (%s); the next run fits it again.", folder, err)
    return prior


def cache_key(
    history: pd.DataFrame,
    space: SearchSpace,
    *,
    metric: str,
    mode: str,
    key: Mapping[str, Any],
    options: Mapping[str, Any],
) -> str:
    """The SHA-256 (hex) that names the cache entry of a fit (see :func:`fit_cached`)."""
    h = hashlib.sha256()
    head = {
        "cache": _CACHE_VERSION,
        "format": _FORMAT,
        "code": _code_sha256(),
        "space": space.to_json(),
        "metric": metric,
        "mode": mode,
        "options": dict(options),
        "key": dict(key),
    }
    h.update(json.dumps(head, sort_keys=True, default=repr).encode())
    h.update(_frame_sha256(history).encode())
    return h.hexdigest()


def _frame_sha256(frame: pd.DataFrame) -> str:
    """A SHA-256 of a DataFrame's columns, dtypes and values (its index aside)."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    try:
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (a choice of lists): hash their text
        h.update(frame.to_csv(index=False).encode())
    return h.hexdigest()


@functools.cache
def _code_sha256() -> str:
    """A SHA-256 of the source that fits a prior, so a changed fit never reuses old entries."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for folder in ("priors", "space"):
        for path in sorted((root / folder).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def _file_sha256_at(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """A file's SHA-256 (hex), computed once per version of the file; ``"missing"`` if absent."""
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return _file_sha256_at(str(path), stat.st_mtime_ns, stat.st_size)


__all__ = ["CACHE_ENV", "cache_dir", "cache_key", "file_sha256", "fit_cached"]
