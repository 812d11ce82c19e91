"""Shared fixtures: paths to the binding contract examples and the external reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EXECLAYER_SHARED_DIR", REPO.parent / "shared"))
CONTRACT_EXAMPLES = SHARED / "contracts" / "examples"
EXTERNAL = SHARED / "external"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    if not CONTRACT_EXAMPLES.is_dir():
        pytest.fail(f"contract examples not found at {CONTRACT_EXAMPLES}")
    return CONTRACT_EXAMPLES


@pytest.fixture(scope="session")
def northeast_path(examples_dir: Path) -> Path:
    return examples_dir / "network-northeast.json"
