"""Shared pieces of the reliability and security suites: the secrets that must never leak, an
app with an (respx-scripted) LLM configured, and whole-store readers (every row of every
table) to look for leaks and to prove that rejected requests wrote nothing."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, MetaData, func, select

from api.app import create_app
from api.options import ApiOptions
from tests.agents.llm_fakes import API_KEY as LLM_API_KEY
from tests.agents.llm_fakes import BASE_URL as LLM_BASE_URL
from tests.api.conftest import (
    API_KEYS,
    KEYS,
    PINNED_NOW,
    SLACK_CHANNEL,
    SLACK_SECRET,
    SLACK_TOKEN,
    Api,
)
from tests.conftest import CONTRACT_EXAMPLES
from tools.inputs import load_snapshot
from tools.network import NetworkSnapshot
from tools.settings import Settings
from tools.store import Store

# Every secret the settings can hold: none may appear in a decision, an audit row, a log
# record or an HTTP answer.
SECRETS: dict[str, str] = {
    **{f"api key ({role})": key for role, key in KEYS.items()},
    "LLM API key": LLM_API_KEY,
    "Slack bot token": SLACK_TOKEN,
    "Slack signing secret": SLACK_SECRET,
}
LLM_TIMEOUT_S = 1.0
LLM_REQUEST_TIMEOUT_S = 0.5


def leaked(text: str) -> list[str]:
    """Names of the secrets found in `text`."""
    return [name for name, value in SECRETS.items() if value in text]


def surge_of(snapshot: NetworkSnapshot) -> NetworkSnapshot:
    """The network with STORE-BOS buried under a promotion surge (several plans compete)."""
    nodes = [
        n.model_copy(update={"backlog_units": 1300}) if n.id == "STORE-BOS" else n
        for n in snapshot.nodes
    ]
    return snapshot.model_copy(update={"nodes": nodes})


@pytest.fixture
def surge(northeast_path: Path) -> NetworkSnapshot:
    return surge_of(load_snapshot(northeast_path))


def engine_of(store: Store) -> Engine:
    engine: Engine = store._engine  # tests read every table directly
    return engine


_REFLECTED: dict[int, MetaData] = {}


def tables(engine: Engine) -> MetaData:
    """Every table of the database (reflected once per engine)."""
    meta = _REFLECTED.get(id(engine))
    if meta is None:
        meta = MetaData()
        meta.reflect(engine)
        _REFLECTED[id(engine)] = meta
    return meta


def row_counts(store: Store) -> dict[str, int]:
    """Rows in every table of the store (checkpoints included)."""
    engine = engine_of(store)
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in tables(engine).tables.items()
            if name != "alembic_version"
        }


def store_text(store: Store) -> str:
    """Every value of every row of every table, as text (bytes decoded leniently): what a
    database dump would show."""
    engine = engine_of(store)
    parts: list[str] = []
    with engine.connect() as conn:
        for table in tables(engine).tables.values():
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        parts.append(bytes(value).decode("utf-8", "replace"))
                    elif value is not None:
                        parts.append(str(value))
    return "\n".join(parts)


def hostile_settings(home: Path, *, llm: bool = True, **overrides: Any) -> Settings:
    """Settings holding every kind of secret (API keys, LLM key, Slack token and secret)."""
    values: dict[str, Any] = {
        "home": home,
        "api_keys": API_KEYS,
        "slack_signing_secret": SLACK_SECRET,
        "slack_bot_token": SLACK_TOKEN,
    }
    if llm:
        values |= {
            "llm_base_url": LLM_BASE_URL,
            "llm_api_key": LLM_API_KEY,
            "llm_model": "gpt-4o-2024-08-06",
            "llm_timeout_s": LLM_TIMEOUT_S,
            "llm_request_timeout_s": LLM_REQUEST_TIMEOUT_S,
        }
    return Settings(_env_file=None, **(values | overrides))


@asynccontextmanager
async def open_app(
    settings: Settings,
    snapshot: NetworkSnapshot | None = None,
    *,
    use_llm: bool = True,
    options: ApiOptions | None = None,
    **kwargs: Any,
) -> AsyncIterator[Api]:
    """The app (lifespan running) over a fresh store loaded with `snapshot` (default: the
    example network), with the LLM configured when the settings say so."""
    app: FastAPI = create_app(
        settings,
        use_llm=use_llm,
        use_memory=False,
        options=options or ApiOptions(_env_file=None, dispatch_outbox=False),
        now=lambda: PINNED_NOW,
        **kwargs,
    )
    async with app.router.lifespan_context(app):
        store: Store = app.state.runtime.resolver.store
        store.load_snapshot(snapshot or load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(app, client, settings)


class ForeverStream(httpx.SyncByteStream):
    """A response body that never ends: one space every 50 ms until `stop` is set (the
    fixture sets it at teardown so no abandoned reader outlives its test for long)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"id": "chatcmpl-x", "choices": ['
        while not self.stop.wait(0.05):
            yield b" "


@pytest.fixture
def stop_streams() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


__all__ = [
    "LLM_API_KEY",
    "LLM_BASE_URL",
    "SLACK_CHANNEL",
    "ForeverStream",
    "hostile_settings",
    "leaked",
    "open_app",
    "row_counts",
    "store_text",
]
