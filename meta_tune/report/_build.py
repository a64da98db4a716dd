"""Build a report: load the source, draw every section that applies, write one HTML file."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from meta_tune.report._data import ReportData, load
from meta_tune.report._figures import (
    Section,
    best_so_far_section,
    curves_section,
    importance_sections,
    objectives_section,
    parallel_section,
    pareto_section,
    prior_section,
    regret_section,
    slice_section,
)
from meta_tune.report._html import render

if TYPE_CHECKING:
    from meta_tune.store import Store

logger = logging.getLogger(__name__)


def sections(data: ReportData, *, evaluator: str = "fanova", seed: int = 0) -> list[Section]:
    """Every section that applies to ``data``, in the report's order."""
    out: list[Section | None] = [
        regret_section(data),
        best_so_far_section(data),
        parallel_section(data),
        slice_section(data),
        curves_section(data),
        *prior_section(data, seed=seed),
        objectives_section(data),
        pareto_section(data),
        *importance_sections(data, evaluator=evaluator, seed=seed),
    ]
    return [s for s in out if s is not None]


def write_report(
    source: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    store: Store | None = None,
    mode: Literal["min", "max"] | None = None,
    evaluator: str = "fanova",
    seed: int = 0,
) -> Path:
    """Write one self-contained HTML report of a task, a family, a bench or a demo folder.

    The report draws offline (plotly's JavaScript is embedded, about 4.7 MB): best so far
    against trials and time, per run and compared across searchers (with a bench folder's
    normalized regret); parallel coordinates and per-hyperparameter slices of every trial;
    learning curves with the steps where a scheduler stopped trials; the prior fitted on the
    family's other tasks against the configs that did best; for runs tuned for several
    objectives, their Pareto front with each run's hypervolume; the Pareto front of the
    metric and the trials' cost; and hyperparameter importance. Sections without data are left out.

    Example:
        >>> from meta_tune.report import write_report
        >>> write_report("meta_tune_demo", "report.html", store=Store())  # doctest: +SKIP

    Args:
        source: A ``meta-tune bench`` output folder, a ``meta-tune demo`` output folder, or
            the name of a task or a family in ``store``.
        path: The HTML file to write.
        store: Where tasks and families (and a demo's trials) are.
        mode: A bench folder's mode (default: read off its regret table).
        evaluator: Importance evaluator, ``"fanova"`` or ``"pedanova"``.
        seed: Seed of the prior, the importance forest and the samples drawn.

    Returns:
        ``path``.

    Raises:
        InvalidConfigError: ``source`` is neither a bench or demo folder nor a task or family
            of ``store``.
    """
    data = load(str(source), store=store, mode=mode)
    return write(data, path, evaluator=evaluator, seed=seed)


def write(
    data: ReportData, path: str | os.PathLike[str], *, evaluator: str = "fanova", seed: int = 0
) -> Path:
    """Render ``data``'s sections to ``path`` (see :func:`write_report`)."""
    out = Path(path)
    text = render(data.title, sections(data, evaluator=evaluator, seed=seed), notes=data.notes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    logger.info("Wrote %s (%.1f MB).", out, out.stat().st_size / 1e6)
    return out
