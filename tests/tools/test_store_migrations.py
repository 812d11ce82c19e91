"""Engine configuration and Alembic migrations of the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, text

from tools.store import Store
from tools.store.engine import make_engine, normalise_url, read_connection, write_connection
from tools.store.migrations import current_revision, head_revision, migrate
from tools.store.migrations.__main__ import main as migrations_main
from tools.store.schema import metadata

from .multiproc import run_in_processes


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u@h:5432/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_are_normalised(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver


@pytest.mark.parametrize("bad", ["", "   ", "mysql://u@h/db", "not a url"])
def test_bad_urls_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="database url"):
        normalise_url(bad)


def test_sqlite_engine_is_configured_for_concurrent_writers(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "x.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert db.parent.is_dir()
    finally:
        engine.dispose()


def test_sqlite_write_transactions_begin_immediate_and_reads_deferred(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    seen: list[str] = []
    # What SQLite itself runs (BEGIN is sent on the driver, not through SQLAlchemy).
    event.listen(
        engine,
        "connect",
        lambda dbapi, _record: dbapi.set_trace_callback(lambda s: seen.append(s.strip().upper())),
    )
    try:
        with write_connection(engine) as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with read_connection(engine) as conn:
            conn.execute(text("SELECT * FROM t")).all()
        begins = [s for s in seen if s.startswith("BEGIN")]
        assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
    finally:
        engine.dispose()


def test_a_second_sqlite_writer_waits_instead_of_failing(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE takes the write lock up front: the second writer queues on the busy
    timeout, and both writes land."""
    import threading

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with write_connection(engine) as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        started = threading.Event()
        errors: list[BaseException] = []

        def second() -> None:
            started.set()
            try:
                with write_connection(engine) as conn:
                    n = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
                    conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": n + 1})
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        with write_connection(engine) as conn:
            n = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
            worker = threading.Thread(target=second)
            worker.start()
            started.wait()
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": n + 1})
        worker.join(timeout=60)
        assert not errors
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    finally:
        engine.dispose()


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_head_matches_the_sqlalchemy_metadata(store_url: str) -> None:
    assert _diffs(store_url) == []


def test_migrate_is_idempotent_and_reaches_head(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        migrate(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
    finally:
        engine.dispose()


def _open_and_close(url: str) -> str | None:
    store = Store.open(url)
    try:
        return current_revision(store.engine)
    finally:
        store.close()


def test_several_processes_can_migrate_the_same_fresh_database_at_once(store_url: str) -> None:
    revisions = run_in_processes(_open_and_close, [(store_url,)] * 4)
    assert revisions == [head_revision()] * 4


def test_operators_can_migrate_from_a_shell_without_alembic_ini(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrations_main(["upgrade", "--db", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == head_revision()
    assert migrations_main(["current", "--db", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == head_revision()
    assert migrations_main(["heads"]) == 0
    assert capsys.readouterr().out.strip() == head_revision()


def test_offline_mode_prints_the_ddl(capsys: pytest.CaptureFixture[str]) -> None:
    assert migrations_main(["sql", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 0
    ddl = capsys.readouterr().out
    assert "CREATE TABLE inventory" in ddl
    assert "CREATE TRIGGER decision_log_append_only" in ddl


def test_upgrading_past_0003_backfills_the_rate_limit_from_the_action_log(store_url: str) -> None:
    """A store with actions logged before `node_actions` existed counts them after the upgrade
    exactly as it counted them from the log (each node once per action)."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import insert

    from tools.store.migrations import alembic_config
    from tools.store.schema import ACTION_LOG

    engine = make_engine(store_url)
    try:
        with write_connection(engine) as conn:
            command.upgrade(alembic_config(conn), "0002")
        recorded = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        rows = [
            ("E1", "a", "applied", ["DC-NJ"], True),
            ("E2", "b", "applied", ["DC-NJ", "DC-PA", "DC-NJ"], True),
            ("E3", "c", "failed", ["DC-PA"], True),
            ("E4", "d", "applied", ["DC-PA"], False),
            ("E5", "e", "applied", [], True),
        ]
        with write_connection(engine) as conn:
            conn.execute(
                insert(ACTION_LOG),
                [
                    {
                        "exception_id": exception_id,
                        "recorded_at": recorded,
                        "step": "reallocate",
                        "key": key,
                        "status": status,
                        "nodes": nodes,
                        "autonomous": autonomous,
                        "detail": {},
                    }
                    for exception_id, key, status, nodes, autonomous in rows
                ],
            )
        migrate(engine)
        store = Store(engine)
        assert store.recent_actions_by_node(recorded) == {"DC-NJ": 2, "DC-PA": 1}
    finally:
        engine.dispose()
