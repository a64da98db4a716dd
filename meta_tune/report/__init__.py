"""Reports: one offline HTML file per task, family, bench or demo run; hyperparameter importance.

``write_report(source, path, store=...)`` draws best-so-far curves, parallel coordinates,
slices, learning curves, the prior against the outcome, a Pareto front and importance;
``importance(store, task=... | family=...)`` scores hyperparameters with Optuna's fANOVA or
PED-ANOVA, and ``summarize_importance`` tells which matter on most tasks of a family.
plotly and optuna come with the ``bench`` extra.
"""

from __future__ import annotations

from meta_tune.report._build import write_report
from meta_tune.report._importance import EVALUATORS, importance, summarize_importance, trials_importance

__all__ = ["EVALUATORS", "importance", "summarize_importance", "trials_importance", "write_report"]
