"""Every kind of report opens and draws in headless Chromium, offline and without errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meta_tune.cli import main
from meta_tune.store import Store
from tests.report.chromium import find_chromium, open_page

#: A small report (one task, 30 trials) stays under this: plotly.js itself is ~4.7 MB.
SMALL_REPORT_BYTES = 6_000_000

#: Sections each kind of report must have (others may come too).
SECTIONS = {
    "task": ["Best so far", "Parallel coordinates", "Slices per hyperparameter", "Learning curves",
             "The prior against the outcome", "Task-similarity weights over time",
             "Pareto front: metric against cost", "Hyperparameter importance"],
    "family": ["Best so far", "Parallel coordinates", "Slices per hyperparameter", "Learning curves",
               "The prior against the outcome", "Pareto front: metric against cost",
               "Hyperparameter importance across tasks"],
    "demo": ["Best so far", "Parallel coordinates", "Slices per hyperparameter", "Learning curves",
             "The prior against the outcome", "Task-similarity weights over time", "Hyperparameter importance"],
    "objectives": ["Best so far", "Parallel coordinates", "Slices per hyperparameter", "Pareto front of the objectives",
                   "Pareto front: metric against cost"],
    "bench": ["Searchers compared: normalized regret", "Best so far", "Parallel coordinates",
              "Slices per hyperparameter", "Pareto front: metric against cost",
              "Hyperparameter importance across tasks"],
}  # fmt: skip

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no chromium binary (apt-get install chromium; .ci/test.sh installs it)",
)


def _source(kind: str, request: pytest.FixtureRequest) -> tuple[str, Store | None]:
    if kind == "task":
        return "image/fashion_mnist_n1000", request.getfixturevalue("image_store")
    if kind == "family":
        return "image", request.getfixturevalue("image_store")
    if kind == "objectives":  # a task tuned for two objectives
        return "mo/digits", request.getfixturevalue("objectives_store")
    if kind == "demo":
        store = request.getfixturevalue("image_store")
        return str(request.getfixturevalue("demo_folder")), store
    pytest.importorskip("websocket")
    return str(request.getfixturevalue("bench_folder")), None


@needs_chromium
@pytest.mark.parametrize(
    "kind", ["task", pytest.param("family", marks=pytest.mark.slow), "demo", "bench", "objectives"]
)
def test_report_draws_offline_in_chromium(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("websocket")
    source, store = _source(kind, request)
    html = tmp_path / f"report-{kind}.html"
    store_args = ["--store", store.url] if store is not None else []
    main([*store_args, "report", source, "-o", str(html)])
    assert f"Wrote {html}" in capsys.readouterr().out

    text = html.read_text(encoding="utf-8")
    headings = re.findall(r'<h2 id="s\d+">([^<]+)</h2>', text)
    assert set(SECTIONS[kind]) <= {h.replace("&#x27;", "'") for h in headings}, headings
    assert not re.search(r'<script[^>]+src=|<link[^>]+href="http', text), "the report loads a file"

    shot = tmp_path / f"report-{kind}.png"
    page = open_page(html, shot)
    print(f"screenshot of the {kind} report: {shot}")  # noqa: T201 (the artifact's path, in -rA/-s output)
    assert page.console_errors == []
    assert page.requests == []
    assert len(page.charts) == text.count('class="mt-chart"') >= len(SECTIONS[kind]) - 1
    undrawn = [c["id"] for c in page.charts if not (c["svg"] and c["container"])]
    assert undrawn == [], f"charts that did not draw: {undrawn}"
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
    if kind == "task":
        assert html.stat().st_size < SMALL_REPORT_BYTES
    if kind == "objectives":  # the front's chart drew its trials, front and line (not an empty plot)
        front = [c for c in page.charts if c["id"] == f"chart{headings.index('Pareto front of the objectives')}"]
        assert front and front[0]["traces"] >= 3, page.charts


@needs_chromium
def test_the_browser_check_catches_errors_and_network_requests(tmp_path: Path) -> None:
    # The check above must be able to fail: a page with a script error, a console.error, a
    # request to the network and a chart div that never draws.
    pytest.importorskip("websocket")
    html = tmp_path / "broken.html"
    html.write_text(
        '<html><body><div class="mt-chart"><div class="plotly-graph-div" id="c0"></div></div>'
        '<img src="http://example.invalid/x.png"><script>console.error("boom"); undefined_name();</script>'
        "</body></html>",
        encoding="utf-8",
    )
    page = open_page(html, tmp_path / "broken.png", timeout=8)
    assert any("boom" in e for e in page.console_errors)
    assert any("undefined_name" in e for e in page.console_errors)
    assert "http://example.invalid/x.png" in page.requests
    assert page.charts == [{"id": "c0", "svg": 0, "container": 0, "traces": 0}]
