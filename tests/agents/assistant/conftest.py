"""An assistant over a sync Resolver on a fresh store with the northeast example network and
three decided exceptions: EX-P1 (auto-resolved), EX-P4 (waiting for approval AP-EX-P4) and
EX-P5 (auto-resolved; its text is an injection attempt)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.assistant import Asker, Assistant, AssistantBackend
from agents.llm_client import LlmClient
from agents.resolver import Resolver
from tests.agents.graph.fakes import settings_for
from tests.conftest import CONTRACT_EXAMPLES
from tools.events import ExceptionEvent
from tools.inputs import load_snapshot
from tools.store import Store

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # just after the example events
VIEWER = Asker(name="vic", role="viewer", channel="api")
OPERATOR = Asker(name="otto", role="operator", channel="api")
APPROVER = Asker(name="alice", role="approver", channel="api")


def contract_event(name: str) -> ExceptionEvent:
    return ExceptionEvent.model_validate_json(
        (CONTRACT_EXAMPLES / "events" / f"{name}.json").read_text()
    )


@dataclass
class Desk:
    resolver: Resolver
    assistant: Assistant

    @property
    def store(self) -> Store:
        return self.resolver.store

    @property
    def backend(self) -> AssistantBackend:
        return backend_of(self.resolver)

    def with_llm(self, client: LlmClient, secrets: tuple[str, ...] = ()) -> Assistant:
        return Assistant(self.backend, llm=client, secrets=secrets)


def backend_of(resolver: Resolver) -> AssistantBackend:
    """The resolver's backend on a fixed clock (what-if answers do not move with the date)."""
    return dataclasses.replace(AssistantBackend.from_resolver(resolver), clock=lambda: NOW)


@pytest.fixture(scope="session")
def decided_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A store (and its checkpoints) with the network loaded and the three exceptions
    decided, made once per session; each test gets a copy (deciding takes ~0.5 s)."""
    folder = tmp_path_factory.mktemp("assistant-template")
    shutil.copyfile(sqlite_template, folder / "store.db")
    with Resolver.open(settings_for(folder), use_memory=False) as resolver:
        resolver.store.load_snapshot(load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"))
        for name in ("EX-P1", "EX-P4", "EX-P5"):
            resolver.resolve(contract_event(name))
    return folder


@pytest.fixture
def desk(tmp_path: Path, decided_template: Path) -> Iterator[Desk]:
    for file in decided_template.iterdir():
        shutil.copyfile(file, tmp_path / file.name)
    with Resolver.open(settings_for(tmp_path), use_memory=False) as resolver:
        yield Desk(resolver, Assistant(backend_of(resolver)))
