"""Shared fixtures: paths to the binding contract examples and the external reference data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, text

from tools.inputs import load_snapshot
from tools.network import NetworkSnapshot
from tools.store import Store
from tools.store.engine import normalise_url

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


# ---------------------------------------------------------------- store fixtures (tools.store)

PG_SKIP_REASON = (
    "PostgreSQL tests need EXECLAYER_TEST_DATABASE_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/execlayer_test); CI always sets it"
)


def pg_base_url() -> str | None:
    url = os.environ.get("EXECLAYER_TEST_DATABASE_URL", "").strip()
    return url or None


@pytest.fixture
def northeast(northeast_path: Path) -> NetworkSnapshot:
    """The contract's example network, parsed (a fresh copy per test)."""
    return load_snapshot(northeast_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'store' / 'execlayer.db').as_posix()}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database, made once per session and copied by the fixtures
    that need a fresh store (a copy costs far less than running the migrations again)."""
    path = tmp_path_factory.mktemp("template") / "execlayer.db"
    Store.open(f"sqlite:///{path.as_posix()}").close()  # the last close folds the WAL back in
    return path


def _fresh_sqlite_store(url: str, template: Path) -> Store:
    target = Path(url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return Store.open(url)


@pytest.fixture
def sqlite_store(sqlite_url: str, sqlite_template: Path) -> Iterator[Store]:
    """A fresh, migrated store in a temporary SQLite file."""
    store = _fresh_sqlite_store(sqlite_url, sqlite_template)
    yield store
    store.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a fresh schema of their own (search_path),
    dropped after the test: every test starts from an empty database, in isolation."""
    base = pg_base_url()
    if base is None:
        pytest.skip(PG_SKIP_REASON)
    schema = f"t_{uuid4().hex[:16]}"
    admin = create_engine(normalise_url(base))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = normalise_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """A fresh, migrated store in PostgreSQL (skipped when no test database is configured)."""
    store = Store.open(pg_url)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database on each backend (the test runs once per backend)."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(store_url: str, sqlite_template: Path) -> Iterator[Store]:
    """A fresh, migrated store on each backend (the test runs once per backend)."""
    if store_url.startswith("sqlite:///"):
        opened = _fresh_sqlite_store(store_url, sqlite_template)
    else:
        opened = Store.open(store_url)
    yield opened
    opened.close()


@pytest.fixture
def northeast_store(store: Store, northeast: NetworkSnapshot) -> Store:
    """A store on each backend with the example network loaded."""
    store.load_snapshot(northeast)
    return store
