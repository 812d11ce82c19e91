"""Security checks across packages: secrets never logged nor answered, constant-time
comparison of every credential, approvals bound to the approver's identity.

(Slack's signature, its 5-minute replay window, forged/unsigned/stale clicks and non-approver
clicks are tested end to end in tests/api/test_slack.py; API keys per route and role in
tests/api/test_auth.py.)
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import httpx
import pytest

from tests.agents.graph.fakes import llm_endpoint
from tests.api.conftest import KEYS, auth
from tests.reliability.harness import (
    LLM_API_KEY,
    SECRETS,
    hostile_settings,
    leaked,
    open_app,
    row_counts,
    store_text,
)
from tools.network import NetworkSnapshot

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("agents", "api", "tools", "guardrails", "evals")
# Names that hold credentials or their MACs: never compared with == / != (timing leaks).
SECRET_WORDS = ("signature", "digest", "mac", "csrf", "token", "secret", "password", "api_key")


def _names(node: ast.AST) -> list[str]:
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.append(sub.attr)
    return found


def _public(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id.isupper())


def test_credentials_are_only_compared_in_constant_time() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Compare):
                    continue
                if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                    continue
                sides = [node.left, *node.comparators]
                if any(_public(side) for side in sides):
                    continue  # against None, a literal or a public CONSTANT: nothing secret
                names = [n.lower() for n in _names(node)]
                if any(w in n for n in names for w in SECRET_WORDS):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == [], "\n".join(offenders)
    keys = (REPO / "api" / "keys.py").read_text()
    assert "hmac.compare_digest" in keys


async def test_no_secret_in_any_log_answer_or_row(
    tmp_path: Path, surge: NetworkSnapshot, caplog: pytest.LogCaptureFixture
) -> None:
    """Every secret configured; then everything that tends to leak them: an LLM endpoint
    that echoes the key in its 401, wrong and right API keys, forged Slack requests, a
    resolution on a model that fails, and the settings' own repr."""
    caplog.set_level(logging.DEBUG)
    settings = hostile_settings(tmp_path, slack_channel="C0APPROVALS")
    texts = [repr(settings), str(settings), str(settings.model_dump())]
    echo = {
        "error": {
            "message": f"Incorrect API key provided: {LLM_API_KEY}. Find your key at ...",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    event = {
        "id": "EX-SEC-1",
        "type": "node_overload",
        "occurred_at": "2026-11-24T09:05:00Z",
        "orders": ["O-1001"],
        "node": "STORE-BOS",
    }
    async with open_app(settings, surge) as api:
        with llm_endpoint(httpx.Response(401, json=echo)):
            answers = [
                await api.client.post("/v1/exceptions", json=event, headers=auth("operator")),
                await api.client.get("/v1/exceptions/EX-SEC-1", headers=auth("viewer")),
                await api.client.get("/v1/exceptions", headers={"Authorization": "Bearer nope"}),
                await api.client.get(
                    "/v1/exceptions", headers={"Authorization": f"Bearer {KEYS['admin']}x"}
                ),
                await api.client.post(
                    "/slack/interactions",
                    content=b"payload=%7B%7D",
                    headers={
                        "X-Slack-Request-Timestamp": "1800000000",
                        "X-Slack-Signature": "v0=" + "0" * 64,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                ),
                await api.client.get("/healthz"),
                await api.client.get("/openapi.json"),
            ]
        texts += [a.text for a in answers]
        texts.append(store_text(api.store))
    assert answers[0].status_code == 200, answers[0].text  # decided without the model
    assert answers[0].json()["decided_by"] == "policy"
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(record.exc_text or "")
    found = {name for text in texts for name in leaked(text)}
    assert found == set(), found
    assert len(SECRETS) == 7


async def test_approvals_are_bound_to_the_approvers_identity(
    tmp_path: Path, northeast: NetworkSnapshot
) -> None:
    stockout = {
        "id": "EX-SEC-A",
        "type": "stockout",
        "occurred_at": "2026-11-24T09:05:00Z",
        "orders": ["O-1004"],
        "node": "DC-NJ",
        "sku": "SKU-GLOVES",
    }
    settings = hostile_settings(tmp_path, llm=False)
    async with open_app(settings, northeast, use_llm=False) as api:
        pending = await api.client.post("/v1/exceptions", json=stockout, headers=auth("operator"))
        assert pending.status_code == 202
        approval_id = pending.json()["approval"]["id"]
        path = f"/v1/approvals/{approval_id}"
        before = row_counts(api.store)
        spoofed = await api.client.post(
            path,
            json={"decision": "approve", "actor": "mallory", "decided_by": "ceo"},
            headers=auth("approver"),
        )
        by_viewer = await api.client.post(
            path, json={"decision": "approve"}, headers=auth("viewer")
        )
        by_operator = await api.client.post(
            path, json={"decision": "approve"}, headers=auth("operator")
        )
        assert (spoofed.status_code, by_viewer.status_code, by_operator.status_code) == (
            422,
            403,
            403,
        )
        assert row_counts(api.store) == before  # refused: nothing written
        done = await api.client.post(
            path, json={"decision": "approve", "comment": "ok"}, headers=auth("approver")
        )
        assert done.status_code == 200, done.text
        assert done.json()["approval"]["decided_by"] == "alice"
        late = await api.client.post(path, json={"decision": "reject"}, headers=auth("admin"))
        assert late.status_code == 409
        trail = api.store.audit_trail("EX-SEC-A")
        decided = [e for e in trail.approvals if e.event in ("approved", "rejected")]
        assert [(e.event, e.actor) for e in decided] == [("approved", "alice")]
        detail = await api.client.get("/v1/exceptions/EX-SEC-A", headers=auth("viewer"))
        assert "alice" in detail.text and "mallory" not in detail.text
