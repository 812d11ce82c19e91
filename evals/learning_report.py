"""The learning curve's reports: a rich table, JSON, and report.md / report.html / curve.svg.

The chart is a pygal line chart (SVG, no browser, no script: it renders offline) of the
promise-kept rate per window with learning on and off, the degradation marked.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pygal
from pygal.style import Style
from rich.table import Table

from evals.learning import LearningCurve

CHART_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#888",
    colors=("#1b7f3b", "#c0392b", "#7f8c8d"),
    font_family="sans-serif",
)


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def curve_table(curve: LearningCurve) -> Table:
    lane = curve.degraded_lane
    table = Table(
        "window",
        "cases",
        "truth",
        "kept, learning on",
        "kept, learning off",
        f"on {lane}, on",
        f"on {lane}, off",
        title=f"Promise kept per window ({lane} degrades at case {curve.config.degrade_index})",
    )
    cfg = curve.config
    for w in curve.windows:
        truth = (
            f"{cfg.reliability_after:.2f}"
            if w.degraded
            else f"{cfg.reliability_before:.2f}"
            if w.last_case < cfg.degrade_index
            else "changes"
        )
        table.add_row(
            f"{w.first_case}-{w.last_case}",
            str(w.cases),
            truth,
            _pct(w.learning_kept),
            _pct(w.static_kept),
            _pct(w.learning_share_degraded_lane),
            _pct(w.static_share_degraded_lane),
        )
    return table


def curve_json(curve: LearningCurve) -> str:
    return curve.model_dump_json(indent=2)


def curve_svg(curve: LearningCurve) -> str:
    chart = pygal.Line(
        style=CHART_STYLE,
        js=[],  # no external script: the SVG renders offline and anywhere
        disable_xml_declaration=True,
        width=900,
        height=420,
        range=(0, 1),
        show_dots=True,
        dots_size=3,
        x_label_rotation=30,
        legend_at_bottom=True,
        title=f"Promise kept per window: {curve.degraded_lane} degrades at case "
        f"{curve.config.degrade_index} "
        f"({curve.config.reliability_before:.2f} -> {curve.config.reliability_after:.2f})",
        y_title="promise kept",
        x_title="exceptions (window)",
        value_formatter=lambda v: f"{100 * v:.0f}%",
    )
    chart.x_labels = [f"{w.first_case}-{w.last_case}" for w in curve.windows]
    chart.add("learning on", [w.learning_kept for w in curve.windows])
    chart.add("learning off", [w.static_kept for w in curve.windows])
    chart.add(
        f"true {curve.degraded_lane} on-time",
        [
            curve.config.reliability_after if w.degraded else curve.config.reliability_before
            for w in curve.windows
        ],
        stroke_style={"dasharray": "6, 4"},
        show_dots=False,
    )
    svg: str = chart.render(is_unicode=True)
    return svg


def _summary_rows(curve: LearningCurve) -> list[tuple[str, str, str]]:
    return [
        (
            "before the degradation",
            _pct(curve.learning_kept_before),
            _pct(curve.static_kept_before),
        ),
        ("after the degradation", _pct(curve.learning_kept_after), _pct(curve.static_kept_after)),
        (
            "last third after it (learnt)",
            _pct(curve.learning_kept_last_windows),
            _pct(curve.static_kept_last_windows),
        ),
    ]


def curve_markdown(curve: LearningCurve, command: str) -> str:
    cfg = curve.config
    lane = curve.degraded_lane
    lines = [
        "# Learning curve: a carrier degrades, does the agent notice?",
        "",
        f"Made by `{command}` in {curve.seconds:.0f} s (both runs).",
        "",
        f"{cfg.n} exceptions (`sla_risk`, `cutoff_missed`, `carrier_disruption`), each resolved "
        "by choosing a carrier service, by the real resolver on a fresh SQLite store "
        "(deterministic, no LLM). From case "
        f"{cfg.degrade_index} on, {lane}'s TRUE on-time rate is {cfg.reliability_after:.2f} "
        f"(was {cfg.reliability_before:.2f}); its recorded rate stays "
        f"{cfg.reliability_before:.2f}. Learning on: every delivery outcome is fed back through "
        "`Resolver.record_outcome` once the parcel arrives. Learning off: nothing is fed back. "
        "Same stream, same random draws.",
        "",
        "![promise kept per window](curve.svg)",
        "",
        "| | learning on | learning off |",
        "|---|---:|---:|",
        *[f"| {label} | {a} | {b} |" for label, a, b in _summary_rows(curve)],
        "",
        f"| window | kept, learning on | kept, learning off | on {lane}, on | on {lane}, off |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {w.first_case}-{w.last_case}{' (degraded)' if w.degraded else ''} "
            f"| {_pct(w.learning_kept)} | {_pct(w.static_kept)} "
            f"| {_pct(w.learning_share_degraded_lane)} | {_pct(w.static_share_degraded_lane)} |"
            for w in curve.windows
        ],
        "",
        f"Outcomes learnt: {curve.outcomes_recorded}. Final posterior means (learning on): "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(curve.final_posteriors.items()))
        + ".",
        "",
    ]
    return "\n".join(lines)


def curve_html(curve: LearningCurve, command: str, svg: str) -> str:
    cfg = curve.config
    lane = html.escape(curve.degraded_lane)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{a}</td><td>{b}</td></tr>"
        for label, a, b in _summary_rows(curve)
    )
    windows = "".join(
        f"<tr><td>{w.first_case}-{w.last_case}{' (degraded)' if w.degraded else ''}</td>"
        f"<td>{_pct(w.learning_kept)}</td><td>{_pct(w.static_kept)}</td>"
        f"<td>{_pct(w.learning_share_degraded_lane)}</td>"
        f"<td>{_pct(w.static_share_degraded_lane)}</td></tr>"
        for w in curve.windows
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>execlayer learning curve</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;
text-align:right}}td:first-child,th:first-child{{text-align:left}}code{{background:#f4f4f4}}
</style></head><body>
<h1>Learning curve: a carrier degrades, does the agent notice?</h1>
<p>Made by <code>{html.escape(command)}</code> in {curve.seconds:.0f} s.
{cfg.n} exceptions resolved by the real resolver (deterministic, no LLM). From case
{cfg.degrade_index} on, {lane}'s true on-time rate is {cfg.reliability_after:.2f}
(was {cfg.reliability_before:.2f}) while its record says {cfg.reliability_before:.2f}.
Learning on feeds each delivery outcome back through <code>record_outcome</code>; learning off
does not. Same stream, same random draws.</p>
<figure>{svg}</figure>
<table><tr><th></th><th>learning on</th><th>learning off</th></tr>{rows}</table>
<table><tr><th>window</th><th>kept, on</th><th>kept, off</th><th>on {lane}, on</th>
<th>on {lane}, off</th></tr>{windows}</table>
<p>Outcomes learnt: {curve.outcomes_recorded}. Final posterior means (learning on):
{html.escape(json.dumps(curve.final_posteriors))}.</p>
</body></html>
"""


def write_reports(curve: LearningCurve, out: Path, command: str) -> list[Path]:
    """Write curve.json, curve.svg, report.md and report.html into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    svg = curve_svg(curve)
    files = {
        "curve.json": curve_json(curve) + "\n",
        "curve.svg": svg,
        "report.md": curve_markdown(curve, command),
        "report.html": curve_html(curve, command, svg),
    }
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        written.append(path)
    return written
