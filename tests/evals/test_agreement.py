"""Agreement with past decisions, on the committed sample OMS export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.agreement import AgreementReport, agreement, compare
from evals.agreement_report import write_reports
from evals.cases import History, ReplayCase, write_cases
from evals.export_format import load_mapping
from evals.importer import ExportFiles, import_export
from tools.decisions import Action, ActionType, Decision, DecisionStatus

SAMPLE = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "oms_sample"


@pytest.fixture(scope="module")
def sample_cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mapping = load_mapping(SAMPLE / "mapping.yaml")
    cases = import_export(ExportFiles.in_folder(SAMPLE, mapping), mapping).cases
    path = tmp_path_factory.mktemp("agree") / "cases.jsonl"
    write_cases(path, cases)
    return path


@pytest.fixture(scope="module")
def sample_report(sample_cases: Path) -> AgreementReport:
    return agreement(sample_cases)


def test_agreement_on_the_sample_export(sample_report: AgreementReport) -> None:
    r = sample_report
    assert r.cases == 16 and r.compared == 16
    assert r.agreements + r.disagreements == r.compared
    assert "error" not in r.agent_statuses
    by_case = {i.case_id: i for i in r.items}
    # SWIFT is disrupted in NE: people rebooked on PARCELCO-GROUND at DC-NJ, so does the agent.
    rebook = by_case["hist-EX-H05"]
    assert rebook.agent_action_types == ["book_carrier"]
    assert (rebook.same_type, rebook.same_node, rebook.same_service) == (True, True, True)
    assert rebook.agrees is True and rebook.people_ended_badly is False
    # The rates are the items' counts.
    assert r.same_type_rate == round(sum(bool(i.same_type) for i in r.items) / 16, 4)
    bad = [i for i in r.items if i.agrees is False and i.people_ended_badly]
    assert r.disagreements_people_ended_badly == len(bad)
    assert r.people_bad_when_agent_disagrees == round(len(bad) / r.disagreements, 4)
    assert sum(f.cases for f in r.by_family.values()) == 16


def test_reports_are_written(sample_report: AgreementReport, tmp_path: Path) -> None:
    files = write_reports(sample_report, tmp_path, "execlayer eval agree --dataset x")
    assert {p.name for p in files} == {"agreement.json", "chart.svg", "report.md", "report.html"}
    assert AgreementReport.model_validate_json((tmp_path / "agreement.json").read_text())
    assert "<svg" in (tmp_path / "report.html").read_text()
    assert "hist-EX-H05" in (tmp_path / "report.md").read_text()


def _case(history: History | None) -> ReplayCase:
    return ReplayCase.model_validate(
        {
            "id": "c",
            "family": "sla_risk",
            "network_ref": "n.json",
            "event": {
                "id": "E",
                "type": "sla_risk",
                "occurred_at": "2026-11-20T12:00:00Z",
                "orders": ["O"],
            },
            "history": history.model_dump() if history else None,
        }
    )


def test_compare_counts_only_what_the_history_names() -> None:
    escalated = Decision(exception_id="E", status=DecisionStatus.ESCALATED, policy_version="p")
    item = compare(_case(History(action_type="escalate", outcome="late")), escalated, None)
    assert item.same_type is True and item.same_node is None and item.agrees is True
    assert item.people_ended_badly is True
    moved = Decision(
        exception_id="E",
        status=DecisionStatus.AUTO_RESOLVED,
        policy_version="p",
        actions=[
            Action(type=ActionType.REALLOCATE, order="O", node="DC-NJ", carrier_service="S-1"),
            Action(type=ActionType.NOTIFY_CUSTOMER, order="O"),
        ],
    )
    item = compare(
        _case(History(action_type="reallocate", node="DC-PA", carrier_service="S-1")), moved, None
    )
    assert (item.same_type, item.same_node, item.same_service, item.agrees) == (
        True,
        False,
        True,
        False,
    )
    assert item.agent_action_types == ["reallocate"]
    failed = compare(_case(History(action_type="hold")), None, "boom")
    assert failed.status == "error" and failed.agrees is None and "boom" in failed.agent_summary()
    assert compare(_case(None), moved, None).agrees is None


def test_cli_agree_json_and_bad_dataset(sample_cases: Path, tmp_path: Path) -> None:
    small = tmp_path / "two.jsonl"
    small.write_text("".join(sample_cases.read_text().splitlines(keepends=True)[:2]))
    result = CliRunner().invoke(app, ["eval", "agree", "--dataset", str(small), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cases"] == 2 and len(data["items"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    result = CliRunner().invoke(app, ["eval", "agree", "--dataset", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:1" in " ".join(result.output.split())


def test_a_case_the_agent_cannot_run_is_reported_not_fatal(
    sample_cases: Path, tmp_path: Path
) -> None:
    case = json.loads(sample_cases.read_text().splitlines()[0])
    case["policy"] = {"version": "mine", "autonomy": "sometimes"}
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(case) + "\n")
    report = agreement(path)
    item = report.items[0]
    assert item.status == "error" and item.error is not None and "autonomy" in item.error
    assert item.agrees is None and report.compared == 0 and report.agent_statuses == {"error": 1}
