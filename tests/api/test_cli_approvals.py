"""`execlayer approvals list|approve|reject` against the store, no server; `serve` wiring."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.resolver import Resolver
from api.cli import app
from tests.api.conftest import api_settings
from tests.conftest import CONTRACT_EXAMPLES
from tools.inputs import load_event, load_snapshot
from tools.store import Store

runner = CliRunner()


@pytest.fixture
def db(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("EXECLAYER_HOME", str(home))
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    settings = api_settings(home)
    with Resolver.open(settings, use_llm=False, use_memory=False) as resolver:
        resolver.store.load_snapshot(load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"))
        for name in ("EX-P1", "EX-P4"):
            resolver.resolve(load_event(CONTRACT_EXAMPLES / "events" / f"{name}.json"))
    return settings.database_url


def test_list_pending(db: str) -> None:
    result = runner.invoke(app, ["approvals", "list", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [i["approval"]["id"] for i in items] == ["AP-EX-P4"]
    table = runner.invoke(app, ["approvals", "list", "--db", db])
    assert table.exit_code == 0 and "AP-EX-P4" in table.output
    none = runner.invoke(app, ["approvals", "list", "--db", db, "--status", "approved"])
    assert none.exit_code == 0 and "No approved approvals" in none.output
    bad = runner.invoke(app, ["approvals", "list", "--db", db, "--status", "maybe"])
    assert bad.exit_code == 2 and "--status" in bad.output


def test_approve_then_approve_again(db: str) -> None:
    result = runner.invoke(
        app, ["approvals", "approve", "AP-EX-P4", "--comment", "ok", "--db", db, "--json"]
    )
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["status"] == "resolved"
    assert decision["approval"]["decided_by"] == f"cli:{getpass.getuser()}"
    assert decision["approval"]["channel"] == "cli"
    again = runner.invoke(app, ["approvals", "reject", "AP-EX-P4", "--db", db])
    assert again.exit_code == 1 and "already approved" in again.output
    with Store.open(db) as store:
        assert len(store.list_approvals(status="approved")) == 1


def test_reject_and_unknown(db: str) -> None:
    result = runner.invoke(app, ["approvals", "reject", "AP-EX-P4", "--db", db])
    assert result.exit_code == 0, result.output
    assert "REJECTED" in result.output
    missing = runner.invoke(app, ["approvals", "approve", "AP-NOPE", "--db", db])
    assert missing.exit_code == 2 and "no approval 'AP-NOPE'" in missing.output


def test_serve_runs_the_app_under_uvicorn(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    seen: dict[str, object] = {}

    def fake_run(app_obj: object, **kwargs: object) -> None:
        seen.update(kwargs, app=app_obj)

    monkeypatch.setenv("EXECLAYER_HOME", str(home))
    monkeypatch.setattr("api.server.uvicorn.run", fake_run)
    result = runner.invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert type(seen["app"]).__name__ == "FastAPI"


def test_serve_refuses_malformed_api_keys(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("EXECLAYER_HOME", str(home))
    monkeypatch.setenv("EXECLAYER_API_KEYS", "secret-key-without-role")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "EXECLAYER_API_KEYS entry 1" in result.output
    assert "secret-key-without-role" not in result.output
