"""Uniform random search as a seeded, resumable meta-tune searcher."""

from __future__ import annotations

from typing import Any

from meta_tune.searchers._base import MetaSearcher


class RandomSearch(MetaSearcher):
    """Uniform random search (every active parameter sampled independently), seeded and resumable.

    Unlike Tune's default search it reads conditional spaces the way meta-tune's other
    searchers do, saves and restores its state as JSON, and is the ``random`` of the registry.
    """

    def _propose(self) -> dict[str, Any]:
        return self.space.sample(self._rng, 1)[0]
