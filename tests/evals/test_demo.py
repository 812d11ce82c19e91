"""`execlayer demo` end to end, reduced: every family through the real resolver, twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app


def test_reduced_demo_runs_twice_and_writes_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECLAYER_HOME", str(tmp_path / "home"))
    for name in ("EXECLAYER_LLM_BASE_URL", "EXECLAYER_LLM_MODEL", "EXECLAYER_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    for _ in range(2):  # a second run must not trip over the first one's data
        result = runner.invoke(app, ["demo", "--n", "7"])
        assert result.exit_code == 0, result.output
        assert "promises kept" in result.output and "static rules" in result.output
    report = tmp_path / "home" / "demo" / "report.html"
    assert report.exists() and "<svg" in report.read_text()
    doc = json.loads((tmp_path / "home" / "demo" / "metrics.json").read_text())
    agent = doc["policies"]["agent"]["overall"]
    assert agent["cases"] == 7 and agent["guardrail_violations"] == 0
    assert len(doc["policies"]["agent"]["by_family"]) == 7  # one exception of each family


def test_demo_needs_one_exception_per_family() -> None:
    result = CliRunner().invoke(app, ["demo", "--n", "3"])
    assert result.exit_code == 2 and "at least 7" in result.output
