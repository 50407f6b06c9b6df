"""A store on PostgreSQL: connecting, the schema and its version, the write lock, errors.

Loaded only for a ``postgresql://`` store: psycopg takes a third of a second to import,
which an SQLite store's first screen does not pay.

- The schema is the SQLite store's (the same SQLModel tables, :mod:`derived` in
  PostgreSQL's terms), text columns in the "C" collation so names sort and compare as
  on SQLite, times UTC without an offset, flags SMALLINT 0/1. Its version lives in the
  ``syncview_schema`` table, which also marks the database as a syncview store.
- Writers take turns as on SQLite: every write transaction first takes one advisory
  lock (``pg_advisory_xact_lock``), waiting at most ``BUSY_TIMEOUT_S`` like SQLite's
  busy timeout; it is released when the transaction ends, however it ends.
- Rows that a bulk writer gives ids itself (it hands them out under that lock) leave
  the id sequences behind: each write transaction moves them past the highest id
  before it commits (:func:`advance_ids`), so the next ORM insert never collides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlmodel import SQLModel

from syncview.domain import FOLD_SQL_POSTGRES
from syncview.errors import StoreError
from syncview.store import derived, models
from syncview.store import db
from syncview.store.db import APPLICATION_ID, Store
from syncview.store.dialect import StoreUrl, pg_sql, pg_text_columns, shown_url

#: The table holding a PostgreSQL store's schema version (SQLite's ``PRAGMA user_version``).
SCHEMA_TABLE = "syncview_schema"
#: Advisory lock keys: the writers' turn, and creating or migrating the schema.
WRITE_LOCK = 0x53594E5601
SCHEMA_LOCK = 0x53594E5602
#: How long connecting to the server may take before giving up.
CONNECT_TIMEOUT_S = 5
#: Tables whose ids come from a sequence, which :func:`advance_ids` keeps past the rows.
_ID_TABLES = ("integration", "client", "record", "resource", "syncrun", "sync_log_entry", "audit_event")
_ADVANCE_IDS = "SELECT " + ", ".join(
    f"setval(pg_get_serial_sequence('{t}', 'id'), coalesce((SELECT max(id) FROM {t}), 0) + 1, false)"
    for t in _ID_TABLES)


def parse_url(url: str) -> tuple[URL, StoreUrl]:
    """The SQLAlchemy URL (psycopg driver) of a store URL, and the URL as shown (password masked)."""
    example = "write it as postgresql://user@host:port/database"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(f"{shown_url(url)} is not a PostgreSQL URL syncview can read (its port must be a number); "
                         f"{example}") from None
    if parsed.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise StoreError(f"{shown_url(url)} is not a PostgreSQL URL syncview can read; {example}")
    shown = StoreUrl(parsed.set(drivername="postgresql").render_as_string(hide_password=True))
    if not parsed.database:
        raise StoreError(f"{shown} names no database; {example}")
    return parsed.set(drivername="postgresql+psycopg"), shown


def engine_for(url: str, *, password: str | None = None) -> tuple[Engine, StoreUrl]:
    """An engine on the PostgreSQL database at ``url`` (``password`` when the URL holds none),
    and the URL as shown; nothing is connected yet. The caller disposes of the engine."""
    sa_url, shown = parse_url(url)
    if password and sa_url.password is None:
        sa_url = sa_url.set(password=password)
    return _make_engine(sa_url), shown


def open_postgres(url: str, *, password: str | None = None) -> Store:
    """Open (initialising or migrating as needed) the PostgreSQL store at ``url``."""
    engine, shown = engine_for(url, password=password)
    try:
        _prepare_schema(engine, shown)
    except DBAPIError as error:
        engine.dispose()
        raise translate_pg(error, shown) from error
    except BaseException:
        engine.dispose()
        raise
    return Store(shown, engine)


def _make_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        # A connection the server dropped (a restart, an idle timeout) is replaced, not used.
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "syncview",
            # UTC: the store's times carry no offset. lock_timeout: SQLite's busy timeout.
            "options": f"-c timezone=UTC -c lock_timeout={int(db.BUSY_TIMEOUT_S * 1000)}",
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        _flags_as_numbers(dbapi_connection)

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _portable_sql(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                      executemany: bool) -> tuple[str, Any]:
        # SQL text given to exec_driver_sql in the portable subset (``?`` parameters, see dialect.py)
        # is spelt for psycopg; SQL that SQLAlchemy compiled is PostgreSQL's already.
        if "?" in statement and (context is None or context.compiled is None):
            statement = pg_sql(statement)
        return statement, parameters

    return engine


def _flags_as_numbers(connection: Any) -> None:
    """Python's True/False go to the server as 1/0: the flag columns are SMALLINT (dialect.Flag),
    and the bulk paths pass bools straight through the DB-API."""
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    int2 = connection.adapters.types["int2"].oid

    class FlagText(Dumper):
        oid = int2

        def dump(self, obj: bool) -> bytes:
            return b"1" if obj else b"0"

    class FlagBinary(Dumper):
        oid = int2
        format = Format.BINARY

        def dump(self, obj: bool) -> bytes:
            return b"\x00\x01" if obj else b"\x00\x00"

    connection.adapters.register_dumper(bool, FlagText)
    connection.adapters.register_dumper(bool, FlagBinary)


def take_write_lock(conn: Connection) -> None:
    """Wait (up to the lock timeout) for the writers' turn; held until the transaction ends."""
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))


def advance_ids(conn: Connection) -> None:
    """Move each id sequence past its table's highest id (see the module's docstring)."""
    conn.exec_driver_sql(_ADVANCE_IDS)


def schema_state(conn: Connection, shown: StoreUrl) -> tuple[int, bool]:
    marked = conn.exec_driver_sql("SELECT to_regclass(%s) IS NOT NULL", (SCHEMA_TABLE,)).scalar_one()
    if marked:
        row = conn.exec_driver_sql(f"SELECT application_id, version FROM {SCHEMA_TABLE}").first()
        if row is None or row[0] != APPLICATION_ID:
            raise StoreError(f"the database {shown} has a {SCHEMA_TABLE} table that syncview did not write; "
                             "choose another database")
        return int(row[1]), True
    tables = conn.exec_driver_sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").scalar_one()
    if tables:
        raise StoreError(f"the database {shown} holds tables but is not a syncview store; give syncview an empty "
                         "database of its own (createdb syncview) and point --db at it")
    return 0, False


def _prepare_schema(engine: Engine, shown: StoreUrl) -> None:
    with engine.connect() as conn, conn.begin():
        # One process initialises or migrates; another waits, then finds it done.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        version, marked = schema_state(conn, shown)
        if version > db.SCHEMA_VERSION:
            raise StoreError(
                f"{shown} was written by a newer syncview (schema {version}; this one reads up to "
                f"{db.SCHEMA_VERSION}): upgrade syncview, or use another --db"
            )
        # The name filter's "any case" (domain.fold_case) in SQL; replaced every time, so a store
        # made before it (or by an older syncview) has today's definition.
        conn.exec_driver_sql(FOLD_SQL_POSTGRES)
        if not marked:
            _create(conn)
        elif version < db.SCHEMA_VERSION:
            # DDL is transactional on PostgreSQL: a step that fails leaves the schema as it was.
            for step in range(version, db.SCHEMA_VERSION):
                db.MIGRATIONS[step](conn)
            conn.exec_driver_sql(f"UPDATE {SCHEMA_TABLE} SET version = %s", (db.SCHEMA_VERSION,))
        derived.refresh_pg(conn)


def _create(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)
    models.coordination.create_all(conn)  # the leases of rate and room in flight (store/leases.py)
    for table, column, type_ in pg_text_columns(SQLModel.metadata.sorted_tables):
        conn.exec_driver_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {type_} COLLATE "C"')
    derived.create(conn, backfill=False)
    conn.exec_driver_sql(f"CREATE TABLE {SCHEMA_TABLE} (application_id BIGINT NOT NULL, version INTEGER NOT NULL)")
    conn.exec_driver_sql(f"INSERT INTO {SCHEMA_TABLE} VALUES (%s, %s)", (APPLICATION_ID, db.SCHEMA_VERSION))


# --------------------------------------------------------------------------- errors


def translate_pg(error: BaseException, shown: str) -> StoreError:
    """Turn a PostgreSQL failure into one line that says what is wrong and what to do."""
    orig = getattr(error, "orig", None) or error
    text = " ".join(str(orig).split())
    lower = text.lower()
    state = getattr(orig, "sqlstate", None) or ""
    where = _server(shown)
    if "password authentication failed" in lower or "no password supplied" in lower:
        return StoreError(f"the PostgreSQL server {where} refused the login of {_user(shown)} (wrong or missing "
                          "password): set PGPASSWORD, add it to ~/.pgpass, or set [store] password in the config")
    if "does not exist" in lower and "database" in lower:
        return StoreError(f"the PostgreSQL server {where} has no database {_database(shown)!r}: create it "
                          f"(createdb {_database(shown)}) or fix the --db URL")
    if "role" in lower and "does not exist" in lower:
        return StoreError(f"the PostgreSQL server {where} has no user {_user(shown)}: create it or fix the --db URL")
    if "could not translate host name" in lower or "name or service not known" in lower:
        return StoreError(f"cannot find the PostgreSQL server {where} (unknown host name): fix the --db URL")
    if "connection refused" in lower or ("timeout expired" in lower and "connection" in lower):
        return StoreError(f"cannot reach the PostgreSQL server {where} (connection refused): check it is running "
                          "and the --db URL's host and port")
    if state == "55P03" or "lock timeout" in lower:
        return StoreError(f"the store {shown} is busy with another syncview writer (waited {db.BUSY_TIMEOUT_S:g} s); "
                          "try again when it has finished")
    if state.startswith("08") or state in ("57P01", "57P02", "57P03") or any(
            words in lower for words in ("server closed the connection", "connection is closed", "terminating connection",
                                         "consuming input failed", "connection is lost", "connection already closed",
                                         "ssl connection has been closed", "the connection is lost")):
        return StoreError(f"lost the connection to the PostgreSQL server {where}; what was under way was rolled "
                          "back, nothing of it was written: check the server and try again")
    if state == "53100":
        return StoreError(f"the PostgreSQL server {where} is out of disk space; nothing was written: free some space "
                          "and retry")
    if state == "25006":
        return StoreError(f"the store {shown} is read-only (a standby server?); nothing was written: point --db at "
                          "the primary")
    if state == "42501":
        return StoreError(f"the user {_user(shown)} may not change the store {shown} (permission denied): grant it "
                          "the database's tables, or use the database's owner")
    return StoreError(f"store error on {shown}: {text}")


def _server(shown: str) -> str:
    url = make_url(shown)
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _user(shown: str) -> str:
    return repr(make_url(shown).username or "(the login name)")


def _database(shown: str) -> str:
    return make_url(shown).database or ""


def describe(url: str, *, password: str | None = None) -> str:
    """What a PostgreSQL store holds, read without writing (for ``doctor``): its schema, size and
    name index; StoreError (one line) when it cannot be read or is not a syncview store."""
    engine, shown = engine_for(url, password=password)
    try:
        with engine.connect() as conn:
            version, marked = schema_state(conn, shown)
            if not marked:
                return "an empty database; syncview makes it a store on first use"
            if version > db.SCHEMA_VERSION:
                raise StoreError(f"{shown} was written by a newer syncview (schema {version}; this one reads up to "
                                 f"{db.SCHEMA_VERSION}): upgrade syncview")
            resources = conn.exec_driver_sql("SELECT coalesce(sum(n), 0) FROM resource_count").scalar_one()
            server = conn.exec_driver_sql("SHOW server_version").scalar_one()
            index = "with" if derived.has_name_index(conn) else "without (pg_trgm missing: name filters scan)"
            pending = f", migrated to {db.SCHEMA_VERSION} on next use" if version < db.SCHEMA_VERSION else ""
            return (f"PostgreSQL {server} store, schema {version}{pending}, {int(resources):,} resources, "
                    f"{index} the trigram name index")
    except DBAPIError as error:
        raise translate_pg(error, shown) from error
    finally:
        engine.dispose()
