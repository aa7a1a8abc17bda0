"""Statements compiled once by SQLAlchemy and run on the DB-API connection
(issue 13).

SQLAlchemy builds the SQL and knows each database's forms, paramstyle and
type conversions; running a statement through its `Connection` costs more
than the statement itself for the small, hot statements of a sync request
(a read of one row: about 60 µs of CPU through SQLAlchemy, 5 on `sqlite3`;
profiled in docs/performance.md, "Where one request's CPU goes"). A
`Compiled` is such a statement compiled once for one engine's dialect, with
what executing it needs precomputed: the SQL text, the order of the
positional parameters (or their names), the default values SQLAlchemy put
in the statement, and the bind and result conversions of the column types
(MySQL's VARBINARY ids; none on SQLite and PostgreSQL). Executing it is a
plain `cursor.execute(sql, params)`.

Only statements without "expanding" parameters (`IN` lists) compile here;
those keep SQLAlchemy's path.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, cast

import sqlalchemy as sa

Processor = Callable[[Any], Any] | None
_NO_DEFAULT = object()


class Compiled:
    """One statement for one dialect; see the module docstring."""

    __slots__ = ("sql", "_binds", "_positional", "_no_conversions", "_result_processors", "_plain")

    def __init__(
        self,
        statement: sa.ClauseElement,
        dialect: sa.engine.Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        """`column_keys`: the keys of an INSERT's or UPDATE's rows, as
        SQLAlchemy's executemany would take them from the first row."""
        # a statement compiles to the SQL compiler's type (what has the binds)
        compiled = cast(sa.sql.compiler.SQLCompiler, statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        ))
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a statement with an expanding IN list cannot be precompiled")
        self.sql = compiled.string
        self._positional = compiled.positional
        if compiled.positional:
            names = list(compiled.positiontup or ())
        else:
            names = list(dict.fromkeys(compiled.bind_names.values()))
        processors = compiled._bind_processors
        binds = compiled.binds
        # (name, value when the caller gives none, conversion)
        self._binds: tuple[tuple[str, Any, Processor], ...] = tuple(
            (
                name,
                _NO_DEFAULT if binds[name].required else binds[name].effective_value,
                cast(Processor, processors.get(name)),
            )
            for name in names
        )
        self._result_processors: tuple[Processor, ...] = tuple(
            column[3]._cached_result_processor(dialect, None)
            for column in getattr(compiled, "_result_columns", ())
        )
        self._no_conversions = not any(p for _, _, p in self._binds) and not any(
            self._result_processors
        )
        # Every parameter given by the caller and none converted (SQLite and
        # PostgreSQL): params() is one C call per row, which an executemany
        # of 100 rows needs (a Python loop per value cost 10 us per row)
        self._plain: Callable[[Mapping[str, Any]], Any] | None = None
        if all(default is _NO_DEFAULT and p is None for _, default, p in self._binds):
            names = [name for name, _, _ in self._binds]
            if not names:
                self._plain = lambda values: ()
            elif self._positional:
                getter = operator.itemgetter(*names)
                self._plain = (lambda values: (getter(values),)) if len(names) == 1 else getter
            else:
                self._plain = lambda values: {name: values[name] for name in names}

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The DB-API parameters for one execution (a sequence for the
        positional paramstyles, a dict for the named ones)."""
        if self._plain is not None:
            return self._plain(values)
        out = []
        for name, default, processor in self._binds:
            value = values.get(name, default)
            if value is _NO_DEFAULT:
                raise KeyError(f"no value for bind parameter {name!r}")
            out.append(processor(value) if processor is not None and value is not None else value)
        if self._positional:
            return out
        return {name: value for (name, _, _), value in zip(self._binds, out)}

    def convert_rows(self, rows: list) -> list:
        """The driver's rows with the column types' conversions applied."""
        if self._no_conversions:
            return rows
        processors = self._result_processors
        return [
            tuple(value if p is None or value is None else p(value) for p, value in zip(processors, row))
            for row in rows
        ]


class Driver:
    """Runs `Compiled` statements on one DB-API connection. A driver error
    is handled as SQLAlchemy handles its own: wrapped in `sa.exc.DBAPIError`
    (which `Dialect.classify` maps), a lost connection invalidated, the
    engine's `handle_error` hooks run."""

    __slots__ = ("dbapi_connection", "_on_error")

    def __init__(self, dbapi_connection: Any, on_error: Callable[..., NoReturn]) -> None:
        """`on_error(exc, sql, params, cursor)` raises what SQLAlchemy would."""
        self.dbapi_connection = dbapi_connection
        self._on_error = on_error

    @classmethod
    def of(cls, conn: sa.Connection) -> Driver:
        """The driver under `conn`, in its transaction."""
        # SQLAlchemy's own handling of a driver error (private, but the one
        # place that knows disconnects and the handle_error hooks)
        return cls(
            conn.connection.dbapi_connection,
            lambda exc, sql, params, cursor: conn._handle_dbapi_exception(exc, sql, params, cursor, None),
        )

    def _execute(self, compiled: Compiled, values: Mapping[str, Any]) -> Any:
        params = compiled.params(values)
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, params)
        except Exception as exc:
            self._on_error(exc, compiled.sql, params, cursor)
        return cursor

    def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list:
        cursor = self._execute(compiled, values)
        try:
            rows = cursor.fetchall()
        except Exception as exc:
            self._on_error(exc, compiled.sql, None, cursor)
        finally:
            cursor.close()
        return compiled.convert_rows(rows)

    def scalar(self, compiled: Compiled, values: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        rows = self.rows(compiled, values)
        return rows[0][0] if rows else None

    def rowcount(self, compiled: Compiled, values: Mapping[str, Any]) -> int:
        cursor = self._execute(compiled, values)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def executemany(self, compiled: Compiled, rows: Iterable[Mapping[str, Any]]) -> None:
        params = [compiled.params(row) for row in rows]
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.executemany(compiled.sql, params)
        except Exception as exc:
            self._on_error(exc, compiled.sql, params, cursor)
        finally:
            cursor.close()


def read_once(engine: sa.Engine, compiled: Compiled, values: Mapping[str, Any]) -> list:
    """The rows of one SELECT on a pooled connection, without a SQLAlchemy
    Connection or an explicit transaction: one statement reads one snapshot
    on every database (SQLite's autocommit statement, the server databases'
    statement snapshot; the pool rolls back on return). Opening, beginning
    and closing a SQLAlchemy Connection cost three times the statement
    (profiled: `info/collections`, docs/performance.md)."""
    try:
        pooled = engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as exc:  # as Engine.connect() raises it
        sa.Connection._handle_dbapi_exception_noconnection(exc, engine.dialect, engine)
    try:

        def on_error(exc: Exception, sql: str, params: Any, cursor: Any) -> NoReturn:
            if isinstance(exc, engine.dialect.loaded_dbapi.Error) and engine.dialect.is_disconnect(
                exc, pooled.dbapi_connection, cursor
            ):
                pooled.invalidate(exc)
            sa.Connection._handle_dbapi_exception_noconnection(exc, engine.dialect, engine)

        return Driver(pooled.dbapi_connection, on_error).rows(compiled, values)
    finally:
        pooled.close()
