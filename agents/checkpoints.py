"""Checkpointers for the resolver graph: SQLite by default, PostgreSQL by URL; sync and async.

The checkpoint lives beside the store: a SQLite store `x.db` keeps its checkpoints in
`x.checkpoints.sqlite`; a PostgreSQL store keeps them in the same database (LangGraph's own
tables). Our pydantic models and enums are registered with LangGraph's serializer (its
msgpack allowlist), derived from the state's type hints so a new field cannot be forgotten.
"""

from __future__ import annotations

import sqlite3
import types
import typing
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import ormsgpack
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import WRITES_IDX_MAP, BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import (
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
    _msgpack_default,
)
from langgraph.checkpoint.serde.jsonplus import _option as _MSGPACK_OPTIONS
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from agents.state import ResolverState


def _walk(annotation: Any, found: set[type]) -> None:
    origin = typing.get_origin(annotation)
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            _walk(arg, found)
        return
    if not isinstance(annotation, type) or annotation in found:
        return
    if issubclass(annotation, Enum):
        found.add(annotation)
    elif issubclass(annotation, BaseModel):
        found.add(annotation)
        for field in annotation.model_fields.values():
            _walk(field.annotation, found)


def state_types() -> list[type]:
    """Every pydantic model and enum that can appear in the resolver state."""
    found: set[type] = set()
    for hint in typing.get_type_hints(ResolverState).values():
        _walk(hint, found)
    return sorted(found, key=lambda t: (t.__module__, t.__qualname__))


# How a state model's fields are packed: datetimes, enums, UUIDs and dataclasses natively (as
# RFC 3339 strings, values, strings and maps), where LangGraph's own options send each to an
# extension of its own; `cls(**fields)` validates them back.
_MODEL_FIELDS_OPTIONS = ormsgpack.OPT_NON_STR_KEYS | ormsgpack.OPT_REPLACE_SURROGATES


class MemoSerializer(JsonPlusSerializer):
    """LangGraph's serializer, remembering how each pydantic value of the state was encoded.

    A checkpoint holds every channel, so without this the same candidates, signals and
    verdicts are encoded again at every later step of a run (and once more in the step's
    writes). State values are never changed in place (steps return new values, as LangGraph
    requires), so the encoding of the same object is reused: same bytes, a fraction of the
    time. Models inside models go through the memo too (`_encode_model`): a verdict inside a
    candidate inside the decision is encoded once. Bounded; entries hold their object, so an
    id is never confused with a new one."""

    CAPACITY = 4096

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._memo: dict[int, tuple[Any, Any]] = {}
        self._own = frozenset(t for t in state_types() if issubclass(t, BaseModel))

    def _default(self, obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            hit = self._memo.get(id(obj))
            if hit is not None and hit[0] is obj:
                return hit[1]
            encoded = self._encode_model(obj) if type(obj) in self._own else _msgpack_default(obj)
            if len(self._memo) >= self.CAPACITY:
                self._memo.clear()
            self._memo[id(obj)] = (obj, encoded)
            return encoded
        return _msgpack_default(obj)

    def _encode_model(self, obj: BaseModel) -> ormsgpack.Ext:
        """A state model as LangGraph's pydantic extension (module, class, fields), which
        LangGraph loads as `cls(**fields)` (validating). The fields are the model's own values
        (`__dict__`: our state models have no aliases, extras or computed fields; a test
        checks), packed natively, and the models among them go through `_default` again, so
        a model already encoded is not encoded twice: no `model_dump`, no Python serializer
        wrappers (`DropNone`). About half the time of `model_dump(mode="json")` per run."""
        cls = type(obj)
        payload = (cls.__module__, cls.__name__, obj.__dict__, "model_validate_json")
        return ormsgpack.Ext(
            EXT_PYDANTIC_V2,
            ormsgpack.packb(payload, default=self._default, option=_MODEL_FIELDS_OPTIONS),
        )

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj is None or isinstance(obj, bytes | bytearray):
            return super().dumps_typed(obj)
        try:
            return "msgpack", ormsgpack.packb(obj, default=self._default, option=_MSGPACK_OPTIONS)
        except ormsgpack.MsgpackEncodeError:
            return super().dumps_typed(obj)  # the plain path (and its fallbacks)


def serializer() -> JsonPlusSerializer:
    return MemoSerializer(allowed_msgpack_modules=state_types())


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def psycopg_conninfo(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as a libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_checkpoint_path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        return ":memory:"
    path = Path(database)
    return str(path.with_name(f"{path.stem}.checkpoints.sqlite"))


class SqliteCheckpointer(SqliteSaver):
    """`SqliteSaver` committing each `put` / `put_writes` once. Its connection is in
    autocommit mode, so the several writes of one step (one row per channel a step updates)
    would otherwise be as many transactions; now they are one, all or nothing."""

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        with self.lock:
            self.setup()
            cur = self.conn.cursor()
            began = transaction and not self.conn.in_transaction
            if began:
                cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                if began:
                    self.conn.rollback()
                raise
            else:
                if began:
                    self.conn.commit()
            finally:
                cur.close()


class AsyncSqliteCheckpointer(AsyncSqliteSaver):
    """`AsyncSqliteSaver` whose `aput_writes` is one transaction (see `SqliteCheckpointer`)."""

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        query = (
            f"INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
            "task_path, idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        configurable = config["configurable"]
        rows = [
            (
                str(configurable["thread_id"]),
                str(configurable["checkpoint_ns"]),
                str(configurable["checkpoint_id"]),
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                *self.serde.dumps_typed(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]
        await self.setup()
        async with self.lock, self.conn.cursor() as cur:
            await cur.execute("BEGIN IMMEDIATE")
            try:
                await cur.executemany(query, rows)
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()


def sqlite_saver(path: str) -> SqliteSaver:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    saver = SqliteCheckpointer(conn, serde=serializer())
    saver.setup()
    return saver


@contextmanager
def checkpointer_for(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """A synchronous checkpointer beside the store at `url`, closed on exit."""
    if is_postgres(url):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        with ConnectionPool(
            psycopg_conninfo(url),
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        ) as pool:
            saver = PostgresSaver(pool, serde=serializer())  # type: ignore[arg-type]
            saver.setup()
            yield saver
        return
    sqlite = sqlite_saver(sqlite_checkpoint_path(url))
    try:
        yield sqlite
    finally:
        sqlite.conn.close()


async def async_sqlite_saver(path: str) -> AsyncSqliteSaver:
    """An `AsyncSqliteSaver` on its own aiosqlite connection (WAL, like the sync one); the
    caller closes `saver.conn`. Must be created inside the event loop that will use it."""
    import aiosqlite

    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=30000")
        saver = AsyncSqliteCheckpointer(conn, serde=serializer())
        await saver.setup()
    except BaseException:
        await conn.close()
        raise
    return saver


@asynccontextmanager
async def async_checkpointer_for(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """An asynchronous checkpointer beside the store at `url` (the same tables and files as
    `checkpointer_for`, so sync and async resolvers share threads), closed on exit."""
    if is_postgres(url):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        async with AsyncConnectionPool(
            psycopg_conninfo(url),
            min_size=1,
            max_size=8,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        ) as pool:
            saver = AsyncPostgresSaver(pool, serde=serializer())  # type: ignore[arg-type]
            await saver.setup()
            yield saver
        return
    sqlite = await async_sqlite_saver(sqlite_checkpoint_path(url))
    try:
        yield sqlite
    finally:
        await sqlite.conn.close()
