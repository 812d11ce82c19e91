"""Fixtures for the API tests: an app on a fresh store with the example network, keys for
every role, events from the contract examples, and a Slack stand-in."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.options import ApiOptions
from api.runtime import ApiRuntime
from tests.api.slack_standin import SlackStandIn, load_examples
from tests.conftest import CONTRACT_EXAMPLES, EXTERNAL
from tools.booking import CarrierAdapter
from tools.inputs import load_snapshot
from tools.settings import Settings
from tools.store import Store

KEYS = {
    "admin": "k-admin-0123456789",
    "approver": "k-approver-0123456789",
    "operator": "k-operator-0123456789",
    "viewer": "k-viewer-0123456789",
}
NAMES = {"admin": "ann", "approver": "alice", "operator": "otto", "viewer": "vic"}
API_KEYS = ",".join(f"{NAMES[r]}={k}:{r}" for r, k in KEYS.items())
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TOKEN = "xoxb-test-token"
SLACK_CHANNEL = "C0APPROVALS"
SLACK_APPROVER = "W111"
PINNED_NOW = 1_800_000_000.0


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def event_body(name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CONTRACT_EXAMPLES / "events" / f"{name}.json").read_text())
    body.update(changes)
    return body


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    @property
    def runtime(self) -> ApiRuntime:
        runtime: ApiRuntime = self.app.state.runtime
        return runtime

    @property
    def store(self) -> Store:
        return self.runtime.resolver.store

    async def post_event(self, name: str, role: str = "operator", **changes: Any) -> httpx.Response:
        return await self.client.post(
            "/v1/exceptions", json=event_body(name, **changes), headers=auth(role)
        )


def api_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"home": home, "api_keys": API_KEYS, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def open_api(
    settings: Settings,
    *,
    db_url: str | None = None,
    carrier: CarrierAdapter | None = None,
    options: ApiOptions | None = None,
    load_network: bool = True,
    now: float = PINNED_NOW,
    **kwargs: Any,
) -> AsyncIterator[Api]:
    """The app with its lifespan running (store opened, recover() done), and a client."""
    app = create_app(
        settings,
        db_url=db_url,
        carrier=carrier,
        use_llm=False,
        use_memory=False,
        options=options or ApiOptions(_env_file=None, dispatch_outbox=False),  # type: ignore[call-arg]
        now=lambda: now,
        **kwargs,
    )
    async with app.router.lifespan_context(app):
        runtime: ApiRuntime = app.state.runtime
        if load_network and not runtime.resolver.store.has_network():
            runtime.resolver.store.load_snapshot(
                load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json")
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(app, client, settings)


@pytest.fixture
def home(tmp_path: Path, sqlite_template: Path) -> Path:
    """A home directory whose store is a copy of the migrated template (fast)."""
    target = tmp_path / "home" / "execlayer.db"
    target.parent.mkdir(parents=True)
    shutil.copyfile(sqlite_template, target)
    return target.parent


@pytest.fixture
async def api(home: Path) -> AsyncIterator[Api]:
    async with open_api(api_settings(home)) as opened:
        yield opened


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    server = SlackStandIn(load_examples(EXTERNAL), token=SLACK_TOKEN).start()
    yield server
    server.stop()


def slack_settings(home: Path, standin: SlackStandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": SLACK_TOKEN,
        "slack_signing_secret": SLACK_SECRET,
        "slack_channel": SLACK_CHANNEL,
        "slack_api_url": standin.base_url,
        "slack_approvers": f"{SLACK_APPROVER},U0OTHERAPPROVER",
        **overrides,
    }
    return api_settings(home, **values)
