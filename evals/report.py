"""Eval reports: metrics.json, report.md and report.html (with SVG charts), and a terminal table.

One report holds every policy that ran, so a comparison (agent vs static vs oracle ...) reads
at a glance, by family, with the regret against the oracle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.charts import grouped_bars
from evals.metrics import Metrics, PolicyMetrics

ROWS: list[tuple[str, str]] = [
    ("promise_kept_rate", "promise kept"),
    ("cost_per_order", "cost / order ($)"),
    ("auto_resolution_rate", "auto-resolved"),
    ("pending_approval_rate", "pending approval"),
    ("escalation_rate", "escalated"),
    ("expected_pass_rate", "expected pass"),
    ("pass_k", "pass^k"),
    ("guardrail_violations", "guardrail violations"),
    ("decision_latency_p50_ms", "latency p50 (ms)"),
    ("decision_latency_p99_ms", "latency p99 (ms)"),
    ("llm_tokens_per_decision", "LLM tokens / decision"),
    ("mean_lateness_days_when_late", "lateness when late (d)"),
    ("regret_promise_points", "regret vs oracle (points)"),
    ("regret_cost_per_order", "cost regret vs oracle ($)"),
    ("cases", "cases"),
    ("orders", "orders"),
]
RATES = {
    "promise_kept_rate",
    "auto_resolution_rate",
    "pending_approval_rate",
    "escalation_rate",
    "expected_pass_rate",
    "pass_k",
}


def fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in RATES:
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def metrics_document(
    metrics: Mapping[str, PolicyMetrics], meta: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        **meta,
        "policies": {p: m.model_dump(mode="json") for p, m in metrics.items()},
    }


def terminal_table(metrics: Mapping[str, PolicyMetrics]) -> Table:
    table = Table("metric", *metrics.keys(), title="Replay metrics")
    for key, label in ROWS:
        table.add_row(label, *(fmt(key, getattr(m.overall, key)) for m in metrics.values()))
    return table


def families_of(metrics: Mapping[str, PolicyMetrics]) -> list[str]:
    found: list[str] = []
    for m in metrics.values():
        for f in m.by_family:
            if f not in found:
                found.append(f)
    return found


def charts(metrics: Mapping[str, PolicyMetrics]) -> dict[str, str]:
    families = families_of(metrics)
    groups = [*families, "all"]

    def series(key: str) -> dict[str, list[float | None]]:
        out: dict[str, list[float | None]] = {}
        for policy, m in metrics.items():
            row: list[float | None] = []
            for f in families:
                fm = m.by_family.get(f)
                row.append(getattr(fm, key) if fm else None)
            row.append(getattr(m.overall, key))
            out[policy] = row
        return out

    return {
        "promise_kept_by_family.svg": grouped_bars(
            "Promises kept, by family", groups, series("promise_kept_rate"), percent=True
        ),
        "cost_per_order_by_family.svg": grouped_bars(
            "Cost change per order vs. the original plan ($), by family",
            groups,
            series("cost_per_order"),
        ),
        "expected_pass_by_family.svg": grouped_bars(
            "Decisions passing their expected checks, by family",
            groups,
            series("expected_pass_rate"),
            percent=True,
        ),
        "auto_resolution_by_family.svg": grouped_bars(
            "Auto-resolved (no person), by family",
            groups,
            series("auto_resolution_rate"),
            percent=True,
        ),
    }


def _md_table(metrics: Mapping[str, PolicyMetrics], pick: str | None = None) -> list[str]:
    names = list(metrics)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, label in ROWS:
        cells = []
        for m in metrics.values():
            src: Metrics | None = m.overall if pick is None else m.by_family.get(pick)
            cells.append(fmt(key, getattr(src, key)) if src is not None else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _family_table(metrics: Mapping[str, PolicyMetrics], key: str) -> list[str]:
    names = list(metrics)
    lines = ["| family | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for f in families_of(metrics):
        cells = [
            fmt(key, getattr(m.by_family[f], key)) if f in m.by_family else "–"
            for m in metrics.values()
        ]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return lines


def markdown(
    metrics: Mapping[str, PolicyMetrics], meta: Mapping[str, Any], chart_files: Sequence[str]
) -> str:
    lines = [
        "# execlayer offline eval",
        "",
        f"Dataset `{meta.get('dataset')}` — {meta.get('cases')} cases, outcome seed "
        f"{meta.get('seed')}, trials {meta.get('trials')}.",
        "",
        f"Reproduce: `{meta.get('command')}`",
        "",
        "## Overall",
        "",
        *_md_table(metrics),
        "",
        "## Promises kept by family",
        "",
        *_family_table(metrics, "promise_kept_rate"),
        "",
        "## Regret against the oracle (points of promises kept) by family",
        "",
        *_family_table(metrics, "regret_promise_points"),
        "",
        "## Expected checks passed by family",
        "",
        *_family_table(metrics, "expected_pass_rate"),
        "",
        "## Cost change per order vs. the original plan, by family ($)",
        "",
        *_family_table(metrics, "cost_per_order"),
        "",
        "## Charts",
        "",
        *[f"![{name}]({name})" for name in chart_files],
        "",
        "## How outcomes are scored",
        "",
        str(meta.get("method", "")),
        "",
    ]
    return "\n".join(lines)


def html(
    metrics: Mapping[str, PolicyMetrics], meta: Mapping[str, Any], svgs: Mapping[str, str]
) -> str:
    def table(rows: list[str]) -> str:
        header, _, *body = rows
        cells = [c.strip() for c in header.strip("|").split("|")]
        out = [
            "<table><thead><tr>"
            + "".join(f"<th>{escape(c)}</th>" for c in cells)
            + "</tr></thead><tbody>"
        ]
        for row in body:
            cs = [c.strip() for c in row.strip("|").split("|")]
            out.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cs) + "</tr>")
        return "\n".join(out) + "</tbody></table>"

    sections = [
        ("Overall", table(_md_table(metrics))),
        ("Promises kept by family", table(_family_table(metrics, "promise_kept_rate"))),
        (
            "Regret against the oracle (points)",
            table(_family_table(metrics, "regret_promise_points")),
        ),
        ("Expected checks passed by family", table(_family_table(metrics, "expected_pass_rate"))),
        (
            "Cost change per order vs. the original plan, by family ($)",
            table(_family_table(metrics, "cost_per_order")),
        ),
    ]
    body = "\n".join(f"<h2>{escape(t)}</h2>\n{content}" for t, content in sections)
    figures = "\n".join(f"<figure>{svg}</figure>" for svg in svgs.values())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>execlayer offline eval</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #111; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #e5e7eb; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
code {{ background: #f3f4f6; padding: 1px 4px; }}
figure {{ margin: 1rem 0; }}
</style></head><body>
<h1>execlayer offline eval</h1>
<p>Dataset <code>{escape(str(meta.get("dataset")))}</code> — {meta.get("cases")} cases,
outcome seed {meta.get("seed")}, trials {meta.get("trials")}.</p>
<p>Reproduce: <code>{escape(str(meta.get("command")))}</code></p>
{figures}
{body}
<h2>How outcomes are scored</h2>
<p>{escape(str(meta.get("method", "")))}</p>
</body></html>
"""


def write_reports(
    out: Path, metrics: Mapping[str, PolicyMetrics], meta: Mapping[str, Any]
) -> list[Path]:
    """metrics.json, report.md, report.html and the charts (SVG) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    svgs = charts(metrics)
    written = []
    for name, svg in svgs.items():
        (out / name).write_text(svg + "\n")
        written.append(out / name)
    doc = metrics_document(metrics, meta)
    (out / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "report.md").write_text(markdown(metrics, meta, list(svgs)))
    (out / "report.html").write_text(html(metrics, meta, svgs))
    return [out / "metrics.json", out / "report.md", out / "report.html", *written]


def print_summary(console: Console, metrics: Mapping[str, PolicyMetrics]) -> None:
    console.print(terminal_table(metrics))
