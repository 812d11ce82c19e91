"""Agreement reports: a rich table, JSON, and agreement.json / chart.svg / report.md / .html."""

from __future__ import annotations

import html
from pathlib import Path

import pygal
from rich.table import Table

from evals.agreement import AgreementReport
from evals.learning_report import CHART_STYLE


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _headline(report: AgreementReport) -> list[tuple[str, str]]:
    return [
        ("cases (compared)", f"{report.cases} ({report.compared})"),
        ("same action type", _pct(report.same_type_rate)),
        ("same node", _pct(report.same_node_rate)),
        ("same carrier service", _pct(report.same_service_rate)),
        ("agrees on everything compared", _pct(report.agreement_rate)),
        (
            "people's choice ended badly where the agent agrees",
            _pct(report.people_bad_when_agent_agrees),
        ),
        (
            "people's choice ended badly where the agent disagrees",
            f"{_pct(report.people_bad_when_agent_disagrees)} "
            f"({report.disagreements_people_ended_badly} of {report.disagreements})",
        ),
        ("agent statuses", ", ".join(f"{k} {v}" for k, v in report.agent_statuses.items())),
    ]


def agreement_table(report: AgreementReport) -> Table:
    table = Table("measure", "value", title=f"Agreement with past decisions: {report.dataset}")
    for label, value in _headline(report):
        table.add_row(label, value)
    return table


def cases_table(report: AgreementReport) -> Table:
    table = Table("case", "people did", "outcome", "agent did", "status", "agrees")
    for item in report.items:
        table.add_row(
            item.case_id,
            item.people_summary(),
            item.outcome or "",
            item.agent_summary(),
            item.status,
            {True: "yes", False: "no", None: "-"}[item.agrees],
        )
    return table


def agreement_svg(report: AgreementReport) -> str:
    chart = pygal.Bar(
        style=CHART_STYLE,
        js=[],
        disable_xml_declaration=True,
        width=900,
        height=400,
        range=(0, 1),
        legend_at_bottom=True,
        title="Agreement with past decisions, and how the people's choices ended",
        value_formatter=lambda v: f"{100 * v:.0f}%",
    )
    chart.x_labels = [
        "same type",
        "same node",
        "same service",
        "agrees",
        "bad outcome | agrees",
        "bad outcome | disagrees",
    ]
    chart.add(
        "rate",
        [
            report.same_type_rate,
            report.same_node_rate,
            report.same_service_rate,
            report.agreement_rate,
            report.people_bad_when_agent_agrees,
            report.people_bad_when_agent_disagrees,
        ],
    )
    svg: str = chart.render(is_unicode=True)
    return svg


def agreement_markdown(report: AgreementReport, command: str) -> str:
    lines = [
        "# Agreement with past decisions",
        "",
        f"Made by `{command}` in {report.seconds:.1f} s.",
        "",
        "![agreement](chart.svg)",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in _headline(report)],
        "",
        "| family | cases | same type | agrees |",
        "|---|---:|---:|---:|",
        *[
            f"| {family} | {f.cases} | {_pct(f.same_type_rate)} | {_pct(f.agreement_rate)} |"
            for family, f in report.by_family.items()
        ],
        "",
        "| case | people did | outcome | agent did | status | agrees |",
        "|---|---|---|---|---|---|",
    ]
    for item in report.items:
        agrees = {True: "yes", False: "no", None: "-"}[item.agrees]
        lines.append(
            f"| {item.case_id} | {item.people_summary()} | {item.outcome or ''} | "
            f"{item.agent_summary()} | {item.status} | {agrees} |"
        )
    return "\n".join(lines) + "\n"


def agreement_html(report: AgreementReport, command: str, svg: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>"
        for label, value in _headline(report)
    )
    cases = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(cell)}</td>"
            for cell in (
                item.case_id,
                " ".join(
                    x for x in (item.people_action_type, item.people_node, item.people_service) if x
                ),
                item.outcome or "",
                item.agent_summary(),
                item.status,
                {True: "yes", False: "no", None: "-"}[item.agrees],
            )
        )
        + "</tr>"
        for item in report.items
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>execlayer agreement</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px}}
code{{background:#f4f4f4}}</style></head><body>
<h1>Agreement with past decisions</h1>
<p>Made by <code>{html.escape(command)}</code> in {report.seconds:.1f} s.</p>
<figure>{svg}</figure>
<table>{rows}</table>
<table><tr><th>case</th><th>people did</th><th>outcome</th><th>agent did</th><th>status</th>
<th>agrees</th></tr>{cases}</table>
</body></html>
"""


def write_reports(report: AgreementReport, out: Path, command: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    svg = agreement_svg(report)
    files = {
        "agreement.json": report.model_dump_json(indent=2) + "\n",
        "chart.svg": svg,
        "report.md": agreement_markdown(report, command),
        "report.html": agreement_html(report, command, svg),
    }
    written = []
    for name, text in files.items():
        (out / name).write_text(text)
        written.append(out / name)
    return written
