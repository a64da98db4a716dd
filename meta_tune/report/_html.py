"""One self-contained HTML file: plotly's JavaScript embedded, nothing fetched from a network."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timezone

from meta_tune import __version__
from meta_tune._imports import require
from meta_tune.report._figures import Section

#: The class of every chart's ``<div>`` (the browser test counts them).
CHART_CLASS = "mt-chart"

_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 0 24px 48px; color: #222; }
h1 { font-size: 1.5em; margin-top: 24px; }
h2 { font-size: 1.15em; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.caption, ul.notes { color: #555; font-size: 0.92em; max-width: 1100px; }
nav a { margin-right: 14px; font-size: 0.9em; }
table.mt { border-collapse: collapse; font-size: 0.85em; margin-top: 8px; }
table.mt td, table.mt th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.mt th { background: #f4f4f4; }
"""


def render(title: str, sections: Sequence[Section], *, notes: Sequence[str] = ()) -> str:
    """The report as one HTML document that draws offline.

    Args:
        title: The page's heading.
        sections: What to show, in order.
        notes: Lines shown under the heading (what was left out, how time is counted).

    Returns:
        The HTML text (plotly.js inline: about 4.7 MB before the data).
    """
    offline = require("plotly.offline", extra="bench")
    parts = []
    anchors = []
    for i, section in enumerate(sections):
        anchor = f"s{i}"
        anchors.append(f'<a href="#{anchor}">{html.escape(section.title)}</a>')
        parts.append(f'<h2 id="{anchor}">{html.escape(section.title)}</h2>')
        parts.append(f'<p class="caption">{html.escape(section.caption)}</p>')
        if section.figure is not None:
            body = section.figure.to_html(
                full_html=False,
                include_plotlyjs=False,
                include_mathjax=False,
                div_id=f"chart{i}",
                config={"displaylogo": False, "responsive": True},
            )
            parts.append(f'<div class="{CHART_CLASS}">{body}</div>')
        if section.table is not None:
            parts.append(section.table.to_html(index=False, classes="mt", border=0, na_rep="-"))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{offline.get_plotlyjs()}</script></head><body>'
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="caption">meta-tune {html.escape(__version__)} report, {stamp}. Self-contained: it opens '
        "without a network.</p>"
        + (f'<ul class="notes">{notes_html}</ul>' if notes else "")
        + f"<nav>{''.join(anchors)}</nav>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
