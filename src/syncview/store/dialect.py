"""What differs between the two store engines, SQLite and PostgreSQL, in one place.

The services write their SQL once. Queries built with SQLAlchemy use the constructs
below (:class:`Unindexed`, :func:`contains`, :class:`JsonField`, :func:`id_list`,
:func:`upsert`), each compiled in the engine's own terms. The bulk paths that go
through the DB-API directly (``executemany`` over many rows) get their connection
from :func:`raw_connection`; their SQL is written in one portable subset, SQLite's
spelling, that :func:`pg_sql` turns into PostgreSQL's:

- ``?`` parameters (psycopg's ``%s``);
- ``x IN (SELECT value FROM json_each(?))``, a JSON array of ids (``x`` is one of
  the integer id columns, :data:`_ID_COLUMNS`) or of texts (any other ``x``), and ``json_each(?)`` elsewhere for texts;
- ``json_each(?) alias`` over an array of arrays, its elements read only as
  ``x = json_extract(alias.value, '$[N]')`` (an integer when ``x`` is an id, as above);
- ``temp.`` before a temporary table's name, and ``WITHOUT ROWID`` (SQLite only);
- flags (``deleted_remotely``, ``disabled``) compared with 0 and 1: they are SMALLINT on
  PostgreSQL (:class:`Flag`), so ``= 0`` means the same on both.

Nothing outside ``syncview.store`` asks which engine it runs on.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import (Boolean, ColumnElement, Connection, DateTime, Dialect, Integer, SmallInteger, String, Table,
                        TypeDecorator, literal)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeEngine

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def is_store_url(location: object) -> bool:
    """Whether a --db value is a database URL (``scheme://...``) rather than a file path."""
    return isinstance(location, str) and "://" in location


class StoreUrl(str):
    """A PostgreSQL store's URL as shown to people: the password, if the URL held one, masked."""


def shown_url(url: str) -> StoreUrl:
    """A store URL as messages show it: the password, if it holds one, masked."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        return StoreUrl(f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}")
    return StoreUrl(url)


def engine_of(conn: Connection) -> str:
    """``sqlite`` or ``postgresql``: the engine behind a connection."""
    return conn.dialect.name


# --------------------------------------------------------------------------- column types


class Flag(TypeDecorator[bool]):
    """A yes/no column: BOOLEAN on SQLite (0/1, as it always was), SMALLINT 0/1 on PostgreSQL.

    The same 0/1 on both lets one SQL text compare and insert flags as numbers on both
    engines (``deleted_remotely = 0``, the partial index ``WHERE deleted_remotely = 1``);
    Python reads a ``bool`` either way.
    """

    impl = Boolean
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == POSTGRESQL:
            return dialect.type_descriptor(SmallInteger())
        return dialect.type_descriptor(Boolean())

    def process_bind_param(self, value: bool | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != POSTGRESQL:
            return value
        return 1 if value else 0

    def process_result_value(self, value: Any, dialect: Dialect) -> bool | None:
        return None if value is None else bool(value)


# --------------------------------------------------------------------------- SQL constructs


class Unindexed(ColumnElement[Any]):
    """A column SQLite must not drive the query from (written ``+col``: a unary plus hides the
    index on it); PostgreSQL's planner weighs its indexes with statistics and needs no hint."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    inner: str = compiler.process(element.column, **kw)
    return f"+{inner}" if compiler.dialect.name == SQLITE else inner


class _Strpos(GenericFunction[int]):
    """Where ``needle`` starts in ``haystack`` (1-based), 0 when it is not in it."""

    type = Integer()
    name = "instr"
    inherit_cache = True


@compiles(_Strpos, POSTGRESQL)
def _strpos_pg(element: _Strpos, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


def contains(haystack: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """``haystack`` holds ``needle`` as it is (no case folding, no wildcard)."""
    return _Strpos(haystack, literal(needle)) > 0


class JsonField(FunctionElement[str]):
    """One top-level field of a JSON text column, as text (``json_extract`` / ``->>``)."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[str], key: str) -> None:
        self.key = key
        super().__init__(column)


@compiles(JsonField)
def _json_field(element: JsonField, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    if compiler.dialect.name == POSTGRESQL:
        return f"(CAST({column} AS json) ->> '{element.key}')"
    return f"json_extract({column}, '$.{element.key}')"


class _InIds(ColumnElement[bool]):
    """``column IN`` the integers of a JSON array parameter."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], ids_json: ColumnElement[str]) -> None:
        self.column = column
        self.ids_json = ids_json
        self.type = Boolean()


@compiles(_InIds)
def _in_ids(element: _InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    param = compiler.process(element.ids_json, **kw)
    if compiler.dialect.name == POSTGRESQL:
        return (f"{column} IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST({param} AS json))"
                " AS j(value))")
    return f"{column} IN (SELECT value FROM json_each({param}))"


def id_list(column: ColumnElement[Any], ids_json: ColumnElement[str]) -> ColumnElement[bool]:
    """``column IN`` the ids of a JSON array parameter: any number of ids in one statement,
    never SQLite's limit on bound variables nor PostgreSQL's on parameters."""
    return _InIds(column, ids_json)


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert a row, or update the one with the same ``keys`` to these values."""
    if engine_of(conn) == POSTGRESQL:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(table).values(**values)
        conn.execute(pg.on_conflict_do_update(index_elements=list(keys),
                                              set_={k: pg.excluded[k] for k in values if k not in keys}))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(table).values(**values)
        conn.execute(lite.on_conflict_do_update(index_elements=list(keys),
                                                set_={k: lite.excluded[k] for k in values if k not in keys}))


def indexed_by(conn: Connection, index: str) -> str:
    """``INDEXED BY index`` on SQLite (which plans without statistics), nothing on PostgreSQL."""
    return f"INDEXED BY {index}" if engine_of(conn) == SQLITE else ""


def unindexed_sql(conn: Connection, column: str) -> str:
    """:class:`Unindexed` in SQL text."""
    return f"+{column}" if engine_of(conn) == SQLITE else column


# --------------------------------------------------------------------------- the DB-API under a connection


class RawCursor(Protocol):
    """The part of a DB-API cursor the bulk paths use, on either engine."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def close(self) -> None: ...

    def __iter__(self) -> Iterator[Any]: ...


class RawConnection(Protocol):
    """The part of a DB-API connection the bulk paths use, on either engine."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Any: ...

    def cursor(self) -> Any: ...


def raw_connection(conn: Connection) -> RawConnection:
    """The DB-API connection under ``conn``, inside its transaction, taking the portable SQL
    of this module's docstring: sqlite3's own, or psycopg's behind :class:`_PgRaw`."""
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        return driver
    return _PgRaw(driver)


def insert_rows(cursor: RawCursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows into ``table``: ``executemany`` on SQLite (function calls, no round
    trips), COPY on PostgreSQL (one stream; ``executemany`` there is a statement per row).
    Values are as ``executemany`` takes them: texts, numbers, bools, None, times as
    :func:`~syncview.store.db.db_time` text."""
    if not rows:
        return
    if isinstance(cursor, _PgCursor):
        cursor.copy_rows(table, columns, rows)
        return
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)


def insert_id(cursor: Any, sql: str, parameters: Sequence[Any]) -> int:
    """Run one INSERT and return the id the engine gave the new row."""
    if isinstance(cursor, sqlite3.Cursor):
        cursor.execute(sql, parameters)
        if cursor.lastrowid is None:
            raise RuntimeError("the insert gave no row id")
        return cursor.lastrowid
    row = cursor.execute(sql + " RETURNING id", parameters).fetchone()
    return int(row[0])


class _PgCursor:
    """A psycopg cursor taking SQLite-spelt SQL (see :func:`pg_sql`)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _PgCursor:
        self._cursor.execute(pg_sql(sql), tuple(parameters))
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> _PgCursor:
        rows = list(seq_of_parameters)
        if rows:
            self._cursor.executemany(pg_sql(sql), rows)
        return self

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """COPY the rows in (text format: the values go through the same dumpers as parameters)."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def close(self) -> None:
        self._cursor.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class _PgRaw:
    """A psycopg connection taking SQLite-spelt SQL (see :func:`pg_sql`)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def cursor(self) -> _PgCursor:
        return _PgCursor(self._connection.cursor())

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _PgCursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> _PgCursor:
        return self.cursor().executemany(sql, seq_of_parameters)


_JSON_TABLE = re.compile(r"json_each\(\?\)\s+(?!(?:AS|WHERE|JOIN|CROSS|ON|LIMIT|ORDER|GROUP|UNION)\b)(\w+)", re.IGNORECASE)
_JSON_AT = re.compile(r"([\w.]+)(\s*(?:=|!=|<>)\s*)json_extract\((\w+)\.value, '\$\[(\d+)\]'\)", re.IGNORECASE)
_JSON_IN = re.compile(r"([\w.]+)(\s+(?:NOT\s+)?IN\s+)\(SELECT value FROM json_each\(\?\)\)", re.IGNORECASE)
_JSON_EACH = re.compile(r"json_each\(\?\)", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """SQLite-spelt SQL of the portable subset (module docstring) in PostgreSQL's spelling."""

    def json_in(match: re.Match[str]) -> str:
        column, op = match.group(1), match.group(2)
        if _is_id(column):
            return (f"{column}{op}(SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json))"
                    " AS j(value))")
        return f"{column}{op}(SELECT value FROM json_array_elements_text(CAST(? AS json)) AS j(value))"

    def json_at(match: re.Match[str]) -> str:
        column, op, alias, index = match.groups()
        element = f"({alias}.value ->> {index})"
        return f"{column}{op}{_typed(column, element)}"

    sql = _JSON_IN.sub(json_in, sql)
    sql = _JSON_TABLE.sub(r"json_array_elements(CAST(? AS json)) AS \1(value)", sql)
    sql = _JSON_AT.sub(json_at, sql)
    sql = _JSON_EACH.sub("json_array_elements_text(CAST(? AS json)) AS j(value)", sql)
    sql = re.sub(r"\btemp\.", "", sql)
    sql = re.sub(r"\s+WITHOUT ROWID\b", "", sql)
    return _params(sql)


def _typed(column: str, element: str) -> str:
    """A JSON element's text compared with ``column``: as an integer if the column is an id."""
    return f"CAST({element} AS BIGINT)" if _is_id(column) else element


#: The integer columns: ids of rows of the store (``external_id`` is the product's, a text).
_ID_COLUMNS = frozenset({"id", "integration_id", "client_id", "record_id", "resource_id", "sync_run_id"})


def _is_id(column: str) -> bool:
    return column.rsplit(".", 1)[-1].lower() in _ID_COLUMNS


def _params(sql: str) -> str:
    """``?`` to ``%s`` and ``%`` to ``%%``, outside quoted strings and names."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = None
            continue
        if char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


# --------------------------------------------------------------------------- driver errors


def is_driver_error(error: BaseException) -> bool:
    """Whether ``error`` is the database driver's own (sqlite3's or psycopg's), raised by the
    DB-API paths that SQLAlchemy does not wrap. psycopg is looked up only if it was imported:
    it is loaded only for a PostgreSQL store."""
    if isinstance(error, sqlite3.Error):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.Error)


# --------------------------------------------------------------------------- PostgreSQL's column types


@compiles(DateTime, POSTGRESQL)
def _pg_datetime(type_: DateTime, compiler: Any, **kw: Any) -> str:
    # The store keeps UTC without an offset on both engines (the session's time zone is UTC):
    # rows read back the same naive UTC datetimes as from SQLite.
    return "TIMESTAMP WITHOUT TIME ZONE"


def pg_text_columns(tables: Iterable[Table]) -> Iterator[tuple[str, str, str]]:
    """(table, column, type) of every text column: PostgreSQL gives them the "C" collation, so
    names sort, compare and ``lower()`` as on SQLite (by code point, ASCII case only)."""
    from sqlalchemy.dialects import postgresql

    pg = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in tables:
        for column in table.columns:
            impl = getattr(column.type, "impl", column.type)  # SQLModel's AutoString decorates String
            if isinstance(column.type, String) or isinstance(impl, String):
                yield table.name, column.name, column.type.compile(dialect=pg)
