"""The exception hierarchy of meta-tune.

Every error meta-tune raises on purpose derives from :class:`MetaTuneError`. Errors about
bad input also derive from the matching built-in (``ValueError``, ``ImportError``), so
callers can catch either our class or the built-in one.
"""

from __future__ import annotations

__all__ = [
    "EmptyHistoryError",
    "IncompatibleSearchSpaceError",
    "InvalidConfigError",
    "MetaTuneError",
    "MissingDependencyError",
    "StoreError",
    "StoreSchemaError",
    "UnsupportedDomainError",
]


class MetaTuneError(Exception):
    """Base class of every error raised by meta-tune."""


class InvalidConfigError(MetaTuneError, ValueError):
    """A setting, a search space or a configuration is not valid."""


class EmptyHistoryError(InvalidConfigError):
    """There are no past trials to learn from yet (e.g. the first run of a family)."""


class UnsupportedDomainError(MetaTuneError, ValueError):
    """A Tune search-space domain that meta-tune cannot represent (e.g. ``grid_search``)."""


class IncompatibleSearchSpaceError(MetaTuneError, ValueError):
    """A prior or a history does not fit the target search space."""


class MissingDependencyError(MetaTuneError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class StoreError(MetaTuneError):
    """The experiment store cannot be opened, read or written."""


class StoreSchemaError(StoreError):
    """The experiment store was written by a newer meta-tune (or is not a meta-tune store)."""
