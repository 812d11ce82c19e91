"""Bearer keys and roles: every route x every role, key parsing, constant-time matching, and
keys never appearing in logs or answers."""

from __future__ import annotations

import hmac
import logging

import pytest

from api.keys import ApiKeyError, KeyRing, Role, parse_api_keys
from tests.api.conftest import API_KEYS, KEYS, Api, auth, event_body

ROLES = ["viewer", "operator", "approver", "admin"]
# (method, path, body, the least role that may call it)
ROUTES: list[tuple[str, str, object, str]] = [
    ("GET", "/v1/exceptions", None, "viewer"),
    ("GET", "/v1/exceptions/EX-P4", None, "viewer"),
    ("GET", "/v1/approvals?status=pending", None, "viewer"),
    ("GET", "/v1/approvals/AP-EX-P4", None, "viewer"),
    ("GET", "/v1/network/health", None, "viewer"),
    ("POST", "/v1/chat", {"session_id": "s1", "message": "pending"}, "viewer"),
    ("POST", "/v1/exceptions", event_body("EX-P1"), "operator"),
    ("POST", "/v1/outcomes", {"order": "O-1001", "delivered_on_time": True}, "operator"),
    ("POST", "/v1/approvals/AP-EX-P4", {"decision": "reject", "comment": "no"}, "approver"),
]
SUCCESS: dict[str, int] = {}


@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES)
async def test_every_route_refuses_no_key_and_a_wrong_key(
    api: Api, method: str, path: str, body: object, least: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic eDp5"}):
        response = await api.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES)
async def test_every_route_and_role(
    api: Api, method: str, path: str, body: object, least: str, role: str
) -> None:
    await api.post_event("EX-P4")  # something to read and an approval to decide
    response = await api.client.request(method, path, json=body, headers=auth(role))
    if Role(role).allows(Role(least)):
        assert response.status_code == SUCCESS.get(path, 200), response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
        assert least in response.json()["message"]
        assert api.store.get_approval("AP-EX-P4").status.value == "pending"  # type: ignore[union-attr]


async def test_healthz_and_openapi_need_no_key(api: Api) -> None:
    assert (await api.client.get("/healthz")).status_code == 200
    assert (await api.client.get("/openapi.json")).status_code == 200


def test_keys_parse_named_and_unnamed_entries() -> None:
    keys = parse_api_keys("ops-bot=abc:operator, xyz:viewer ,,k==:admin")
    names = [(k.principal.name, k.principal.role) for k in keys]
    assert names[0] == ("ops-bot", Role.OPERATOR)
    assert names[1][0].startswith("viewer-") and names[1][1] is Role.VIEWER
    assert names[2][0].startswith("admin-")  # `k==` is a key with padding, not a name
    ring = KeyRing(keys)
    assert ring.match("abc") == keys[0].principal
    assert ring.match("k==") == keys[2].principal
    assert ring.match("ops-bot=abc") is None
    assert ring.match("") is None and ring.match(None) is None


@pytest.mark.parametrize(
    "raw",
    ["justakey", "key:superuser", "a=b:viewer,c=b:viewer", "n=k1:viewer,n=k2:admin", ":viewer"],
)
def test_malformed_keys_are_refused_without_echoing_them(raw: str) -> None:
    with pytest.raises(ApiKeyError) as caught:
        parse_api_keys(raw)
    assert "entry" in str(caught.value)
    for secret in ("justakey", "k1", "k2"):
        assert secret not in str(caught.value)


def test_every_key_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing(parse_api_keys(API_KEYS))
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr("api.keys.hmac.compare_digest", counting)
    assert ring.match(KEYS["admin"]) is not None  # the first configured key
    assert len(calls) == len(KEYS)
    calls.clear()
    assert ring.match("wrong") is None
    assert len(calls) == len(KEYS)


async def test_keys_never_appear_in_logs_or_answers(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    await api.post_event("EX-P4")
    for role in ROLES:
        for method, path, body, _ in ROUTES:
            response = await api.client.request(method, path, json=body, headers=auth(role))
            seen.append(response.text)
    seen.append(
        (
            await api.client.get(
                "/v1/exceptions", headers={"Authorization": "Bearer leaked-guess-123"}
            )
        ).text
    )
    records = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert records  # the run did log
    for secret in [*KEYS.values(), "leaked-guess-123"]:
        assert secret not in records
        assert all(secret not in text for text in seen)
    decided = api.store.get_approval("AP-EX-P4")
    assert decided is not None and decided.decided_by in {"alice", "ann"}
