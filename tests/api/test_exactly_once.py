"""An approval decided in Slack, the console or the API resolves exactly once: across a
restart in the middle (decided but not resumed; resumed but execution cut short), and when
all three channels decide at the same moment."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agents.state import HumanDecision
from guardrails.policy import default_policy, override_policy
from tests.api.conftest import (
    API_KEYS,
    SLACK_APPROVER,
    SLACK_CHANNEL,
    api_settings,
    auth,
    event_body,
    open_api,
    slack_settings,
)
from tests.api.slack_standin import SlackStandIn
from tests.api.test_console import sign_in
from tests.api.test_slack import click_body, signed
from tools.booking import BookingRequest, SimulatedCarrier
from tools.store import Store

RECOMMEND = override_policy(default_policy(), {"autonomy": "recommend"})  # every plan asks


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, home: Path) -> str | None:
    """The store URL to use (None: the SQLite file under `home`)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


def effects_of(store: Store, exception_id: str, order: str) -> tuple[int, int, int]:
    """(applied actions, live bookings of the order, approval decisions) for an exception."""
    trail = store.audit_trail(exception_id)
    applied = len([a for a in trail.actions if a.status == "applied"])
    bookings = len([b for b in store.bookings_for_order(order) if b.state == "booked"])
    decided = len([a for a in trail.approvals if a.event in ("approved", "rejected")])
    return applied, bookings, decided


async def test_decided_but_not_resumed_finishes_at_the_next_start(
    home: Path, backend: str | None
) -> None:
    settings = api_settings(home)
    async with open_api(settings, db_url=backend, policy=RECOMMEND) as api:
        assert (await api.post_event("EX-P3")).status_code == 202
        # The compare-and-set happens, then the process dies before resuming the graph.
        await api.runtime.resolver.claim_approval(
            "AP-EX-P3", HumanDecision(decision="approve", actor="alice", channel="api")
        )
        pending = api.store.get_exception("EX-P3")
        assert pending is not None and pending.status == "pending_approval"
    async with open_api(settings, db_url=backend, policy=RECOMMEND) as restarted:
        record = restarted.store.get_exception("EX-P3")
        assert record is not None and record.decision is not None
        assert record.decision.status.value == "resolved"
        assert effects_of(restarted.store, "EX-P3", "O-1003") == (
            len(record.decision.actions),
            1,
            1,
        )
        again = await restarted.client.post(
            "/v1/approvals/AP-EX-P3", json={"decision": "approve"}, headers=auth("approver")
        )
        assert again.status_code == 409
        assert again.json()["decision"]["status"] == "resolved"
    async with open_api(settings, db_url=backend, policy=RECOMMEND) as third:
        assert effects_of(third.store, "EX-P3", "O-1003")[:2] == (len(record.decision.actions), 1)


class CrashOnce(SimulatedCarrier):
    """The carrier adapter dies mid-execution (the process would, too)."""

    def book(self, request: BookingRequest):  # type: ignore[no-untyped-def]
        raise RuntimeError("process killed mid-execution")


async def test_execution_cut_short_finishes_once_at_the_next_start(
    home: Path, backend: str | None
) -> None:
    settings = api_settings(home)
    url = backend or settings.database_url
    crashing_store = Store.open(url)
    try:
        async with open_api(
            settings, db_url=backend, policy=RECOMMEND, carrier=CrashOnce(crashing_store)
        ) as api:
            assert (await api.post_event("EX-P3")).status_code == 202
            stopped = await api.client.post(
                "/v1/approvals/AP-EX-P3", json={"decision": "approve"}, headers=auth("approver")
            )
            assert stopped.status_code == 503
            held = api.store.held_reservations()
            assert held  # reserved before the crash, not booked
            assert api.store.bookings_for_order("O-1003") == []
    finally:
        crashing_store.close()
    async with open_api(settings, db_url=backend, policy=RECOMMEND) as restarted:
        record = restarted.store.get_exception("EX-P3")
        assert record is not None and record.decision is not None
        assert record.decision.status.value == "resolved"
        assert effects_of(restarted.store, "EX-P3", "O-1003") == (
            len(record.decision.actions),
            1,
            1,
        )
        assert [r.key for r in restarted.store.held_reservations()] == [r.key for r in held]


async def test_three_channels_at_once_exactly_one_wins(home: Path, standin: SlackStandIn) -> None:
    async with open_api(slack_settings(home, standin), policy=RECOMMEND) as api:
        assert (await api.post_event("EX-P3")).status_code == 202
        csrf = await sign_in(api, "admin")
        click = click_body("execlayer_reject", "AP-EX-P3", SLACK_APPROVER, SLACK_CHANNEL, "1")
        api_call, slack_call, console_call = await asyncio.gather(
            api.client.post(
                "/v1/approvals/AP-EX-P3", json={"decision": "approve"}, headers=auth("approver")
            ),
            api.client.post("/slack/interactions", content=click, headers=signed(click)),
            api.client.post("/approvals/AP-EX-P3", data={"decision": "approve", "csrf": csrf}),
        )
        await api.runtime.drain()
        assert slack_call.status_code == 200
        approval = api.store.get_approval("AP-EX-P3")
        assert approval is not None
        winner = approval.channel
        api_won = api_call.status_code == 200
        console_won = console_call.headers["location"].endswith("notice=approved")
        slack_lost = bool(standin.named("chat.postEphemeral"))
        assert [api_won, console_won, not slack_lost].count(True) == 1
        assert {"api": api_won, "console": console_won, "slack": not slack_lost}[winner]
        if not api_won:
            assert api_call.status_code == 409
        applied, bookings, decided = effects_of(api.store, "EX-P3", "O-1003")
        assert decided == 1
        final = api.store.get_exception("EX-P3").decision  # type: ignore[union-attr]
        assert final is not None
        if winner == "slack":
            assert final.status.value == "rejected" and (applied, bookings) == (0, 0)
        else:
            assert final.status.value == "resolved" and bookings == 1


def wait_healthy(base: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # two server start-ups (~8 s each on the shared machine): -m "not slow" skips
def test_a_real_server_killed_after_the_decision_resolves_once_on_restart(
    home: Path, tmp_path: Path
) -> None:
    """`execlayer serve` in a subprocess, SIGKILLed between the compare-and-set and the
    resumption; the next `execlayer serve` finishes it."""
    from tests.conftest import CONTRACT_EXAMPLES

    policy = tmp_path / "recommend.yaml"
    policy.write_text("version: recommend-test\nautonomy: recommend\n")
    env = {
        **os.environ,
        "EXECLAYER_HOME": str(home),
        "EXECLAYER_API_KEYS": API_KEYS,
        "EXECLAYER_POLICY": str(policy),
        "EXECLAYER_OUTBOX_POLL_S": "0.2",
        "EXECLAYER_PRECEDENT_MEMORY": "false",
        "ANONYMIZED_TELEMETRY": "False",
    }
    for k in ("EXECLAYER_DB_URL", "EXECLAYER_SLACK_BOT_TOKEN", "EXECLAYER_LLM_BASE_URL"):
        env.pop(k, None)
    with Store.open(api_settings(home).database_url) as store:
        store.load_file(CONTRACT_EXAMPLES / "network-northeast.json")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "execlayer"), "serve", "--port", str(port)]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(base, first, time.monotonic() + 60)
        posted = httpx.post(
            f"{base}/v1/exceptions", json=event_body("EX-P3"), headers=auth("operator"), timeout=30
        )
        assert posted.status_code == 202
        with Store.open(api_settings(home).database_url) as store:  # the CAS, as the server would
            assert store.decide_approval("AP-EX-P3", "approved", "alice", "api", None)
            store.append_approval_log("AP-EX-P3", "EX-P3", "approved", "alice", {"channel": "api"})
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(base, second, time.monotonic() + 60)
        detail = httpx.get(f"{base}/v1/exceptions/EX-P3", headers=auth("viewer"), timeout=30)
        body = detail.json()
        assert body["decision"]["status"] == "resolved"
        assert body["decision"]["approval"]["decided_by"] == "alice"
        applied = [a for a in body["audit"]["actions"] if a["status"] == "applied"]
        assert len(applied) == len(body["decision"]["actions"])
        again = httpx.post(
            f"{base}/v1/approvals/AP-EX-P3",
            json={"decision": "reject"},
            headers=auth("admin"),
            timeout=30,
        )
        assert again.status_code == 409
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()
    with Store.open(api_settings(home).database_url) as store:
        assert len([b for b in store.bookings_for_order("O-1003") if b.state == "booked"]) == 1
