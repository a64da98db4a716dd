"""The searcher and scheduler registries are the only place names live.

``meta-tune run``, experiment files, ``meta-tune bench`` and the docs' tables all offer exactly
the registry's names. The tables in docs/experiments.md are generated from the registry; when
an entry changes, regenerate them and review the diff::

    python -m tests.test_registry
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from meta_tune import schedulers, searchers
from meta_tune.bench._methods import METHODS, MethodContext
from meta_tune.cli._tuning import run
from meta_tune.testing import CONTRACT_SPACE
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "experiments.md"
BEGIN, END = "<!-- registry tables: python -m tests.test_registry -->", "<!-- end of registry tables -->"
#: Benchmark-only peers and ablations that ``bench`` adds on top of the searcher registry.
BENCH_ONLY = {
    "optuna",
    "cma",
    "ngopt",
    "zero_shot",
    "bounding_box",
    "quantile",
    "portfolio+random",
    "prior_ga",
    "prior_es",
    "ga",
    "es",
    "controller_uniform",
    "controller_no_portfolio",
}


def _choices(name: str) -> list[str]:
    (option,) = [p for p in run.params if p.name == name]
    assert isinstance(option.type, click.Choice)
    return list(option.type.choices)


def test_run_offers_exactly_the_registrys_names() -> None:
    assert _choices("searcher") == searchers.names()
    assert _choices("scheduler") == schedulers.names()


def test_bench_runs_every_registered_searcher_under_its_name_and_adds_only_peers(
    contract_prior: object,
) -> None:
    assert set(METHODS) == {*searchers.names(), *BENCH_ONLY}
    assert not BENCH_ONLY & set(searchers.names())
    context = MethodContext(
        param_space=CONTRACT_SPACE, flat_space=CONTRACT_SPACE, seed=3, num_trials=10, prior=contract_prior  # type: ignore[arg-type]
    )
    for name in searchers.names():
        entry, method = searchers.get(name), METHODS[name]
        # One name, one thing: the benchmark builds the registry's searcher with its defaults.
        built = method.build(context)
        assert type(built) is type(searchers.build(name, prior=contract_prior, seed=3))  # type: ignore[arg-type]
        assert method.transfer == entry.needs_prior and method.flat == (not entry.conditional)


def render_tables() -> str:
    """The docs' tables of searchers and schedulers, from the registries."""
    lines = ["| searcher | what | learns from | objectives | options |", "|---|---|---|---|---|"]
    for name in searchers.names():
        entry = searchers.get(name)
        learns = "a prior of related tasks" if entry.needs_prior else "this run only"
        objectives = "one or several" if entry.multi_objective else "one"
        options = ", ".join(f"`{o}`" for o in sorted(entry.options())) or "none"
        lines.append(f"| `{name}` | {entry.summary} | {learns} | {objectives} | {options} |")
    lines += ["", "| scheduler | what | learns from | options |", "|---|---|---|---|"]
    for name in schedulers.names():
        scheduler = schedulers.get(name)
        learns = "related tasks' learning curves" if scheduler.learns else "this run only"
        options = ", ".join(f"`{o}={d}`" for o, (_, d) in scheduler.options.items()) or "none"
        lines.append(f"| `{name}` | {scheduler.summary} | {learns} | {options} |")
    return "\n".join(lines)


def _documented(text: str) -> str:
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert match, f"{DOC} lost its registry-table markers"
    return match.group(1)


def test_the_docs_tables_are_the_registry() -> None:
    text = DOC.read_text()
    assert _documented(text) == render_tables(), "regenerate: python -m tests.test_registry"
    assert text.count("| searcher | what |") == 1, f"{DOC} holds the searcher table more than once"


def _regenerate(path: Path) -> None:
    """Rewrite only what lies between the markers (the old tables' text may occur elsewhere too)."""
    text = path.read_text()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert match, f"{path} lost its registry-table markers"
    path.write_text(text[: match.start(1)] + render_tables() + text[match.end(1) :])


if __name__ == "__main__":
    _regenerate(DOC)


def test_learned_stopping_builds_for_runs_shorter_than_its_default_min_t() -> None:
    # `--epochs 2 --scheduler meta_stopping` must run, not fail on the default min_t of 3.
    for name in ("meta_stopping", "meta_asha"):
        assert schedulers.build(name, max_t=2)._min_t == 2  # type: ignore[attr-defined]
        assert schedulers.build(name, max_t=10)._min_t == 3  # type: ignore[attr-defined]
        assert schedulers.build(name, max_t=10, options={"min_t": 5})._min_t == 5  # type: ignore[attr-defined]
