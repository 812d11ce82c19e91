"""Every public contract case satisfies its `expected` block through `execlayer resolve
--json`, without an LLM and with a (respx-mocked) LLM that picks differently from the
deterministic choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.expectations import Expected, check_expected
from tests.agents.graph.fakes import BASE_URL, MODEL, choose, llm_endpoint
from tests.agents.llm_fakes import API_KEY
from tools.decisions import Decision
from tools.network import NetworkSnapshot
from tools.view import NetworkView

CASES = [
    json.loads(line)
    for line in (
        Path(__file__).resolve().parents[3].parent / "shared/contracts/examples/cases-public.jsonl"
    )
    .read_text()
    .splitlines()
    if line.strip()
]


def run_case(case: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm: bool) -> Decision:
    net, ev = tmp_path / "network.json", tmp_path / "event.json"
    net.write_text(json.dumps(case["network"]))
    ev.write_text(json.dumps(case["event"]))
    monkeypatch.setenv("EXECLAYER_HOME", str(tmp_path / "home"))
    for name in ("EXECLAYER_LLM_BASE_URL", "EXECLAYER_LLM_MODEL", "EXECLAYER_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    if llm:
        monkeypatch.setenv("EXECLAYER_LLM_BASE_URL", BASE_URL)
        monkeypatch.setenv("EXECLAYER_LLM_MODEL", MODEL)
        monkeypatch.setenv("EXECLAYER_LLM_API_KEY", API_KEY)
    result = CliRunner().invoke(
        app,
        [
            "resolve",
            str(ev),
            "--network",
            str(net),
            "--db",
            f"sqlite:///{tmp_path / 's.db'}",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return Decision.model_validate_json(result.stdout)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_public_case_without_llm(
    case: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = run_case(case, tmp_path, monkeypatch, llm=False)
    view = NetworkView.of(NetworkSnapshot.model_validate(case["network"]))
    assert check_expected(decision, Expected.model_validate(case["expected"]), view) == []
    assert decision.decided_by.value == "policy"
    assert decision.llm_usage.calls == 0


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_public_case_with_llm(case: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The model prefers the second offered candidate: a choice different from the policy's.
    with llm_endpoint(choose(lambda ids: ids[1] if len(ids) > 1 else ids[0])) as route:
        decision = run_case(case, tmp_path, monkeypatch, llm=True)
    view = NetworkView.of(NetworkSnapshot.model_validate(case["network"]))
    assert check_expected(decision, Expected.model_validate(case["expected"]), view) == []
    allowed = [c for c in decision.candidates if all(v.outcome.value != "deny" for v in c.verdicts)]
    if len(allowed) > 1:  # a real choice: the model was asked and its pick was taken
        assert route.called
        assert decision.decided_by.value == "llm"
        assert decision.chosen != allowed[0].id or decision.rationale == "Chosen by the model."
        assert decision.llm_usage.calls >= 1 and decision.llm_usage.prompt_tokens > 0
    else:  # nothing to choose between: no call is made
        assert not route.called and decision.decided_by.value == "policy"
