"""Prebuilt statements compiled once per dialect and run straight on the DBAPI cursor.

`Connection.execute` spends most of a small statement's time in SQLAlchemy's own Python
(execution context, parameter construction, result metadata): on SQLite about four times what
`sqlite3` itself spends. A `DriverStatement` does that work once per dialect instead: it
compiles its Core statement into the SQL text, the order of its parameters, their bind
processors (a JSON column serialises with the engine's `json_serializer`, a `UtcDateTime`
converts to UTC...) and the result columns' processors, then each call only converts the
values and runs the SQL on the cursor of the connection's own DBAPI connection
(`conn.connection`): the same transaction, the same savepoints.

Kept as SQLAlchemy does it: the statement is logged when the engine echoes, the
`before_cursor_execute` / `after_cursor_execute` events of the connection fire around it (so
counters and injected faults see it), and errors come
out wrapped the same way (`sqlalchemy.exc.OperationalError`, `IntegrityError`, or a
`StatementError` for a value a bind processor refuses). Statements that need anything more at
execution (Python-side column defaults, expanding IN lists, literal-execute parameters) are
refused when first compiled.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]
_REQUIRED = object()  # a parameter the caller passes (as opposed to a constant of the statement)


class UnsupportedStatement(ValueError):
    """The statement needs execution-time work a `DriverStatement` does not do."""


class DriverResult:
    """The rows of one execution (result processors applied) and the cursor's `rowcount`."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            if not self.rows:
                raise NoResultFound("No row was found when one was required")
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


@dataclass(slots=True)
class _Compiled:
    sql: str
    positional: bool
    # (name in the SQL, parameter key or None for a constant, processed constant, processor)
    binds: tuple[tuple[str, str | None, Any, Processor | None], ...]
    row: Any  # the namedtuple class of a result row, or None when there are no result columns
    result_types: tuple[Any, ...]
    keys: frozenset[str]  # the parameters a call passes
    processors: tuple[Processor | None, ...] | None = None  # from the first cursor description

    def parameters(self, params: Mapping[str, Any]) -> Any:
        if params.keys() != self.keys:
            raise ValueError(
                f"parameters {sorted(params)} given, the statement takes {sorted(self.keys)}"
            )
        if self.positional:
            return tuple(
                (params[key] if key is not None else constant)
                if process is None
                else process(params[key] if key is not None else constant)
                for _, key, constant, process in self.binds
            )
        return {
            name: (params[key] if key is not None else constant)
            if process is None
            else process(params[key] if key is not None else constant)
            for name, key, constant, process in self.binds
        }

    def rows(self, dialect: Dialect, raw: list[Any], description: Any) -> list[Any]:
        if self.row is None:
            return raw
        processors = self.processors
        if processors is None:
            processors = self.processors = tuple(
                type_._cached_result_processor(dialect, column[1])
                for type_, column in zip(self.result_types, description, strict=True)
            )
        make = self.row._make
        if not any(processors):
            return [make(r) for r in raw]
        return [
            make(value if p is None else p(value) for p, value in zip(processors, r, strict=True))
            for r in raw
        ]


class DriverStatement:
    """A prebuilt Core statement run on the DBAPI cursor (see the module docstring).

    `columns`: for an INSERT or UPDATE whose values come from the parameters (`insert(t)`,
    `update(t).where(...)` given `{"payload": ...}`), the column keys it sets, as
    `Connection.execute` would take them from the parameters' keys. Every call passes
    exactly the statement's parameters (a missing or extra one is a `StatementError`). `many`: run
    with `execute_many` only (compiled for executemany: no RETURNING of new keys)."""

    __slots__ = ("_by_dialect", "_last", "columns", "many", "statement")

    def __init__(
        self, statement: ClauseElement, columns: Sequence[str] = (), *, many: bool = False
    ) -> None:
        self.statement = statement
        self.columns = tuple(columns)
        self.many = many
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[Dialect, _Compiled] | None = None

    def compiled(self, dialect: Dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        found = self._by_dialect.get(dialect)
        if found is None:
            found = self._by_dialect[dialect] = self._compile(dialect)
        self._last = (dialect, found)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(
            dialect=dialect,
            column_keys=list(self.columns) if self.columns else None,
            for_executemany=self.many,
        )
        if not isinstance(compiled, SQLCompiler):
            raise UnsupportedStatement(f"not a SQL statement: {self.statement!r}")
        refused = (
            ("Python-side column defaults", compiled.insert_prefetch or compiled.update_prefetch),
            ("expanding or post-compile parameters", compiled.post_compile_params),
            ("literal-execute parameters", compiled.literal_execute_params),
        )
        for what, present in refused:
            if present:
                raise UnsupportedStatement(f"{what} are not supported: {compiled.string}")
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        processors = compiled._bind_processors
        escaped = compiled.escaped_bind_names
        if compiled.positional:
            names: Sequence[str] = compiled.positiontup or ()
        else:
            names = list(dict.fromkeys(by_name))
        binds: list[tuple[str, str | None, Any, Processor | None]] = []
        for name in names:
            bind = by_name[name]
            found = processors.get(name)
            if found is not None and not callable(found):
                raise UnsupportedStatement(f"tuple parameters are not supported: {name}")
            process: Processor | None = found
            if bind.required:
                binds.append((escaped.get(name, name), bind.key, None, process))
            else:  # a value fixed in the statement: processed once, here
                value = bind.effective_value
                constant = process(value) if process is not None else value
                binds.append((escaped.get(name, name), None, constant, None))
        columns = compiled._result_columns
        row = namedtuple("DriverRow", [c.keyname for c in columns]) if columns else None
        return _Compiled(
            sql=compiled.string,
            positional=compiled.positional,
            binds=tuple(binds),
            row=row,
            result_types=tuple(c.type for c in columns),
            keys=frozenset(key for _, key, _, _ in binds if key is not None),
        )

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> DriverResult:
        """Run the statement once in `conn`'s transaction."""
        return self._run(conn, params, many=False)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> DriverResult:
        """Run a statement without result columns once per parameter set (`executemany`)."""
        return self._run(conn, rows, many=True)

    def _run(self, conn: Connection, params: Any, many: bool) -> DriverResult:
        if many != self.many:
            raise UnsupportedStatement(
                "execute_many needs a statement built with many=True, execute one without"
            )
        dialect = conn.dialect
        compiled = self.compiled(dialect)
        if not conn.in_transaction():
            raise UnsupportedStatement("a DriverStatement runs inside a transaction of `conn`")
        cursor = conn.connection.cursor()
        sql = compiled.sql
        args: Any = params
        try:
            args = [compiled.parameters(p) for p in params] if many else compiled.parameters(params)
            if conn._echo:  # logged as `Connection.execute` logs (echo, or the engine's INFO log)
                conn._log_info(sql)
                if not conn.engine.hide_parameters:
                    conn._log_info("[driver statement] %r", args)
            events = conn.dispatch
            if events.before_cursor_execute:
                for fn in events.before_cursor_execute:
                    sql, args = fn(conn, cursor, sql, args, None, many)
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
            description = cursor.description
            raw = list(cursor.fetchall()) if description is not None else []
            rowcount = cursor.rowcount
            if events.after_cursor_execute:
                for fn in events.after_cursor_execute:
                    fn(conn, cursor, sql, args, None, many)
            rows = compiled.rows(dialect, raw, description) if raw else []
        except BaseException as exc:
            # SQLAlchemy's own handling: wraps DBAPI errors (and a bind processor's) the same
            # way `Connection.execute` does, invalidates a connection that was lost.
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        finally:
            cursor.close()
        return DriverResult(rows, rowcount)
