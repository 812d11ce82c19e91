"""`/v1/outcomes`, `/v1/chat`, `/healthz`, `/v1/network/health`, and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from tests.api.conftest import Api, api_settings, auth, open_api


async def test_outcome_updates_reliability(api: Api) -> None:
    await api.post_event("EX-P1")
    response = await api.client.post(
        "/v1/outcomes",
        json={"order": "O-1001", "exception_id": "EX-P1", "delivered_on_time": False},
        headers=auth("operator"),
    )
    assert response.status_code == 200
    report = response.json()
    assert report["order"] == "O-1001"
    ((lane, value),) = report["carrier_reliability"].items()
    assert lane.endswith("/NE") and 0 < value < 1
    assert api.store.audit_trail("EX-P1").outcomes


async def test_bad_outcomes_are_422_and_write_nothing(api: Api) -> None:
    for body, field in (
        ({"order": "O-NOPE", "delivered_on_time": True}, "order"),
        ({"order": "O-1001", "carrier": "NOPE", "delivered_on_time": True}, "carrier"),
        ({"order": "O-1001", "picked_units": -1}, "picked_units"),
        ({"delivered_on_time": True}, "order"),
    ):
        response = await api.client.post("/v1/outcomes", json=body, headers=auth("operator"))
        assert response.status_code == 422, body
        assert field in [f["field"] for f in response.json()["fields"]]
    assert api.store.outcomes_for_order("O-NOPE") == []


async def test_chat_answers_commands_with_the_callers_role(api: Api) -> None:
    response = await api.client.post(
        "/v1/chat", json={"session_id": "s1", "message": "status O-1001"}, headers=auth("viewer")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == "s1" and body["mode"] == "commands"
    assert body["answer"].startswith("Order O-1001: allocated, at STORE-BOS")
    assert body["tool_calls"][0]["tool"] == "order_status"
    bad = await api.client.post("/v1/chat", json={"session_id": "s1"}, headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "message"
    unauthorized = await api.client.post("/v1/chat", json={"session_id": "s1", "message": "x"})
    assert unauthorized.status_code == 401


async def test_healthz_reports_components(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "detail": "sqlite"}
    assert (
        body["checkpointer"]["ok"] and body["checkpointer"]["detail"] == "AsyncSqliteCheckpointer"
    )
    assert body["network_loaded"] is True
    assert body["llm"] == {"configured": False, "model": None}
    assert body["slack"]["configured"] is False


async def test_healthz_says_when_the_database_is_gone(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(api.store.engine, "connect", gone)
    response = await api.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["database"]["ok"] is False


async def test_healthz_with_llm_and_slack_configured(home: Path) -> None:
    settings = api_settings(
        home,
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="small-model",
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        slack_channel="C1",
        slack_approvers="U1,U2",
    )
    async with open_api(settings) as configured:
        body = (await configured.client.get("/healthz")).json()
    assert body["llm"] == {"configured": True, "model": "small-model"}
    assert body["slack"] == {"configured": True, "channel": "C1", "approvers": 2}


async def test_network_health(api: Api) -> None:
    response = await api.client.get("/v1/network/health", headers=auth("viewer"))
    assert response.status_code == 200
    health = response.json()
    assert health["loaded"] is True
    assert health["max_node_utilization"] == 1.0
    nodes = health["nodes"]
    assert len(nodes) == 10
    utilizations = [n["utilization"] for n in nodes]
    assert utilizations == sorted(utilizations, reverse=True)
    bos = next(n for n in nodes if n["id"] == "STORE-BOS")
    assert bos["utilization"] == round(bos["backlog_units"] / bos["capacity_units_per_day"], 4)
    assert {c["id"] for c in health["carriers"]} >= {"PARCELCO"}
    assert health["open_orders"] > 0


async def test_network_health_levels_and_disruptions(home: Path) -> None:
    from tests.conftest import CONTRACT_EXAMPLES
    from tools.inputs import load_snapshot
    from tools.network import NodeStatus

    snapshot = load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json")
    nodes = []
    for original in snapshot.nodes:
        node = original
        if node.id == "STORE-BOS":
            node = node.model_copy(update={"backlog_units": node.capacity_units_per_day * 2})
        elif node.id == "STORE-NYC":
            node = node.model_copy(
                update={"backlog_units": int(node.capacity_units_per_day * 0.85)}
            )
        elif node.id == "STORE-PVD":
            node = node.model_copy(update={"status": NodeStatus.CLOSED})
        nodes.append(node)
    carriers = [
        c.model_copy(update={"disrupted_regions": ["NE"]}) if c.id == "SWIFT" else c
        for c in snapshot.carriers
    ]
    snapshot = snapshot.model_copy(update={"nodes": nodes, "carriers": carriers})
    async with open_api(api_settings(home), load_network=False) as opened:
        opened.store.load_snapshot(snapshot)
        health = (await opened.client.get("/v1/network/health", headers=auth("viewer"))).json()
    levels = {n["id"]: n["level"] for n in health["nodes"]}
    assert levels["STORE-BOS"] == "overloaded"
    assert levels["STORE-NYC"] == "busy"
    assert levels["STORE-PVD"] == "closed"
    assert health["overloaded_nodes"] == ["STORE-BOS"]
    assert health["disrupted_carriers"] == ["SWIFT"]
    swift = next(c for c in health["carriers"] if c["id"] == "SWIFT")
    assert [lane["disrupted"] for lane in swift["lanes"] if lane["region"] == "NE"] == [True]


async def test_network_health_without_a_network(home: Path) -> None:
    async with open_api(api_settings(home), load_network=False) as empty:
        health = (await empty.client.get("/v1/network/health", headers=auth("viewer"))).json()
    assert health["loaded"] is False and health["nodes"] == []


async def test_every_operation_has_typed_responses(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert {
        "Decision",
        "ErrorBody",
        "ExceptionDetail",
        "ApprovalPage",
        "HealthReport",
        "NetworkHealth",
        "OutcomeReport",
    } <= set(schemas)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for code, response in responses.items():
                if path == "/slack/interactions" and code == "200":
                    continue  # Slack wants an empty body
                content = response.get("content", {}).get("application/json")
                assert content is not None, (method, path, code)
                schema = content["schema"]
                assert "$ref" in schema or "anyOf" in schema, (method, path, code, schema)
            if path.startswith("/v1/"):
                assert {"401", "403", "422"} <= set(responses), (method, path)
                assert operation.get("security"), (method, path)
