"""Fixtures for the sourcing tests: the contract's example network and events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.events import ExceptionEvent
from tools.inputs import load_event, load_snapshot
from tools.network import NetworkSnapshot
from tools.priorities import BusinessPriorities
from tools.sourcing.limits import SourcingLimits
from tools.view import NetworkView


@pytest.fixture(scope="session")
def northeast(northeast_path: Path) -> NetworkSnapshot:
    return load_snapshot(northeast_path)


@pytest.fixture
def view(northeast: NetworkSnapshot) -> NetworkView:
    return NetworkView.of(northeast)


@pytest.fixture
def priorities() -> BusinessPriorities:
    return BusinessPriorities()


@pytest.fixture
def limits() -> SourcingLimits:
    return SourcingLimits()


@pytest.fixture
def example_event(examples_dir: Path) -> Callable[..., ExceptionEvent]:
    def load(name: str, **changes: Any) -> ExceptionEvent:
        event = load_event(examples_dir / "events" / f"{name}.json")
        return event.model_copy(update=changes) if changes else event

    return load
