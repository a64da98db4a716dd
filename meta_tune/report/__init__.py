"""Reports: one offline HTML file per task, family, bench or demo run; hyperparameter importance.

``write_report(source, path, store=...)`` draws best-so-far curves, parallel coordinates,
slices, learning curves, the prior against the outcome, a Pareto front and importance;
``importance(store, task=... | family=...)`` scores hyperparameters with Optuna's fANOVA or
PED-ANOVA, and ``summarize_importance`` tells which matter on most tasks of a family;
``top_k_space`` searches only the top k of them, the others fixed at the prior's best config
(``top_k_experiment`` measures that on YAHPO meta-test tasks).
plotly and optuna come with the ``bench`` extra.
"""

from __future__ import annotations

from meta_tune.report._build import write_report
from meta_tune.report._importance import EVALUATORS, importance, summarize_importance, trials_importance
from meta_tune.report._shrink import top_k_experiment, top_k_space

__all__ = [
    "EVALUATORS",
    "importance",
    "summarize_importance",
    "top_k_experiment",
    "top_k_space",
    "trials_importance",
    "write_report",
]
