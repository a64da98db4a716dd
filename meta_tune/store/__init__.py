"""The experiment store: the tuning history meta-learning feeds on.

``Store(url)`` keeps tasks, trials and learning curves in SQLite (default
``~/.meta_tune/store.db``, or ``$MT_STORE``) or PostgreSQL; ``StoreCallback`` records any
Tuner's trials live; ``Store.import_experiment`` imports a finished Tune experiment and ``read_experiment``
reads one as a history frame, both from its plain files only (nothing in the folder is
unpickled, so a folder from someone else cannot run code).
``Store.trials``/``curves``/``history`` return DataFrames in the history format that
``meta_tune.priors.fit`` reads (columns documented in ``meta_tune.store._frames``).
``restore_or_start`` resumes a Tune run whose driver died (``StoreCallback`` then still
records each trial once); ``check_store`` checks a store without changing it; ``mask_url``
is how every store URL is printed.
"""

from __future__ import annotations

from meta_tune.store._callback import StoreCallback
from meta_tune.store._check import StoreCheck, check_store
from meta_tune.store._frames import BOOKKEEPING
from meta_tune.store._import import read_experiment
from meta_tune.store._resume import has_experiment_checkpoint, restore_or_start
from meta_tune.store._store import STORE_ENV, Store, TaskInfo, default_store_url
from meta_tune.store._url import mask_url

__all__ = [
    "BOOKKEEPING",
    "STORE_ENV",
    "Store",
    "StoreCallback",
    "StoreCheck",
    "TaskInfo",
    "check_store",
    "default_store_url",
    "has_experiment_checkpoint",
    "mask_url",
    "read_experiment",
    "restore_or_start",
]
