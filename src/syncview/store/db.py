"""Opening the store: engine, pragmas, schema version, migrations, error translation.

The store is an SQLite file (the default) or a PostgreSQL database named by a URL
(``postgresql://user@host:port/db``); :mod:`syncview.store.pg` opens the latter.

Every write goes through :meth:`Store.write`, one ``BEGIN IMMEDIATE`` transaction on
SQLite (a transaction holding the store's write lock on PostgreSQL), so an action
either lands whole or not at all, writers take turns as they always did, and two
processes never deadlock upgrading a read lock to a write lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from sqlmodel import SQLModel

from syncview.domain import fold_case
from syncview.errors import Cancelled, StoreError
from syncview.store import derived, models  # models registers the tables on SQLModel.metadata
from syncview.store.dialect import POSTGRESQL, StoreUrl, is_driver_error, is_store_url

#: Schema version this syncview writes. Bump it and add a step to MIGRATIONS together.
#: 1: the domain tables. 2: resource counts and the trigram name index (store/derived.py), meta.
#: 3: identity keys of resources and records, how a resource matched and why it did not (issue 11),
#:    and the partial index of removed-remotely resources (counted apart from the live ones).
#: 4: the partial index of removed-remotely resources holds their client too (the client
#:    picker counts them by client from the index alone: 38 -> 7 ms at 1M on SQLite); and the
#:    leases of each integration's rate and room in flight, shared by every process and machine
#:    on the store (rate_lease, flight_lease; issue 12).
SCHEMA_VERSION = 4
#: ``PRAGMA application_id`` marking a file as a syncview store ("SYNV").
APPLICATION_ID = 0x53594E56
#: How long a writer waits for another process's lock before giving up.
BUSY_TIMEOUT_S = 5.0

def _v1_to_v2(conn: Connection) -> None:
    models.meta_table.create(conn)
    derived.create(conn, backfill=True)


def _v2_to_v3(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE resource ADD COLUMN matched_on VARCHAR")
    conn.exec_driver_sql("ALTER TABLE resource ADD COLUMN reason VARCHAR")
    conn.exec_driver_sql("ALTER TABLE resource ADD COLUMN reason_kind VARCHAR")
    models.resource_key_table.create(conn)
    models.record_key_table.create(conn)
    # How the links of a v2 store were made is known only from the audit: an operator's
    # re-match left an event; every other link was the name rule's (or a created record's,
    # which v2 did not tell apart). Keys and reasons come with the next sync.
    conn.exec_driver_sql(
        "UPDATE resource SET matched_on = CASE WHEN EXISTS (SELECT 1 FROM audit_event a WHERE a.resource_id ="
        " resource.id AND a.action IN ('rematch', 'redo') AND a.undone_by IS NULL) THEN 'operator' ELSE 'name' END"
        " WHERE status = 'matched' AND record_id IS NOT NULL")
    next(i for i in models.resource_table.indexes if i.name == "ix_resource_removed").create(conn)


def _v3_to_v4(conn: Connection) -> None:
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_resource_removed")
    next(i for i in models.resource_table.indexes if i.name == "ix_resource_removed").create(conn)
    models.coordination.create_all(conn)


#: MIGRATIONS[v] upgrades a store from schema v to v + 1, inside one transaction. Each step is
#: written for both engines (a PostgreSQL store starts at schema 3, but later steps run on both).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}

_SQLITE_HEADER = b"SQLite format 3\x00"


def default_store_path() -> Path:
    """``syncview.db`` in the platform's user data directory."""
    return platformdirs.user_data_path("syncview") / "syncview.db"


#: What SQLite keeps beside a database file: its write-ahead log, shared memory and rollback journal.
SQLITE_LOGS = ("-wal", "-shm", "-journal")


def remove_sqlite_file(path: Path, *, logs_only: bool = False) -> None:
    """Remove an SQLite file and the logs beside it (only the logs with ``logs_only``: a stale
    log must never be paired with another file put in its place)."""
    for suffix in SQLITE_LOGS if logs_only else ("", *SQLITE_LOGS):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def utcnow() -> datetime:
    """Now, in UTC, to the second: the store reads and writes aware UTC datetimes."""
    return datetime.now(UTC).replace(microsecond=0)


def db_time(moment: datetime) -> str:
    """A time as the store's DATETIME columns hold it (UTC, no offset), for bulk inserts
    that bypass SQLAlchemy."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def translate(error: BaseException, path: Path) -> StoreError:
    """Turn an SQLite failure into a message that says what is wrong and what to do."""
    text = str(getattr(error, "orig", None) or error).lower()
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the store {path} is locked by another syncview process "
            f"(waited {BUSY_TIMEOUT_S:g} s); try again when it has finished"
        )
    if "full" in text:
        return StoreError(f"the disk holding {path} is full; nothing was written: free some space and retry")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the store {path} is read-only; nothing was written: check the permissions of the file "
                          "and of its directory (the write-ahead log is made beside it)")
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return StoreError(f"{path} is not a syncview store or is damaged (SQLite says: {text}); choose another "
                          "--db path, or restore a backup with `syncview restore BACKUP`")
    if "unable to open" in text:
        return StoreError(f"cannot open the store {path}: check the directory exists and is writable")
    return StoreError(f"store error on {path}: {text}")


class Cancellation:
    """Lets one thread stop another's read: the screen cancels a count the operator typed past.

    Pass it to :meth:`Store.read`; :meth:`cancel` interrupts the statement running on that
    connection (``sqlite3.Connection.interrupt``, psycopg's ``cancel_safe``: each the one call
    safe from another thread), and the read raises :class:`~syncview.errors.Cancelled`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Callable[[], object] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._connection is not None:
                self._connection()

    def _attach(self, connection: object) -> None:
        with self._lock:
            if self.cancelled:
                raise Cancelled()
            if isinstance(connection, sqlite3.Connection):
                self._connection = connection.interrupt
            else:
                self._connection = getattr(connection, "cancel_safe")

    def _detach(self) -> None:
        with self._lock:
            self._connection = None


def sqlite_connection(conn: Connection) -> sqlite3.Connection:
    """The SQLite connection under ``conn``: for pragmas outside a transaction, which
    SQLAlchemy does not pass through. (Bulk paths use :func:`~syncview.store.dialect.raw_connection`,
    which serves both engines.)"""
    raw = conn.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError(f"the store's connection is {type(raw).__name__}, not sqlite3's")
    return raw


class Store:
    """An open store: an engine plus the transactions services use.

    ``path`` is the SQLite file, or for a PostgreSQL store its URL as shown to people (the
    password, if the URL held one, masked): what messages name.
    """

    def __init__(self, path: Path | StoreUrl, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self.engine_name = engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        """Whether this store is a PostgreSQL database (for the few commands that work on the
        file itself: backup, restore, doctor)."""
        return self.engine_name == POSTGRESQL

    def _translate(self, error: BaseException) -> StoreError:
        if self.engine_name == POSTGRESQL:
            from syncview.store.pg import translate_pg

            return translate_pg(error, str(self.path))
        return translate(error, Path(self.path))

    @contextmanager
    def read(self, cancellation: Cancellation | None = None) -> Iterator[Connection]:
        """A connection for queries (deferred transaction, a consistent snapshot)."""
        try:
            with self.engine.connect() as conn:
                if cancellation is None:
                    yield conn
                    return
                cancellation._attach(conn.connection.driver_connection)
                try:
                    yield conn
                finally:
                    cancellation._detach()
        except DBAPIError as error:
            if cancellation is not None and cancellation.cancelled:
                raise Cancelled() from error
            raise self._translate(error) from error

    @contextmanager
    def write(self, on: Connection | None = None) -> Iterator[Connection]:
        """One immediate write transaction: committed whole at the end, rolled back on any error.

        ``on``: a connection held from :meth:`connection` (one that keeps temporary tables)
        instead of a new one.
        """
        try:
            if on is not None:
                with on.execution_options(sqlite_begin="IMMEDIATE").begin():
                    self._began_write(on)
                    yield on
                    self._ending_write(on)
                return
            with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
                with conn.begin():
                    self._began_write(conn)
                    yield conn
                    self._ending_write(conn)
        except Exception as error:
            self._reraise(error)

    def _reraise(self, error: Exception) -> NoReturn:
        """Raise ``error`` again, as one :class:`StoreError` line when the driver raised it."""
        if isinstance(error, DBAPIError) or is_driver_error(error):
            raise self._translate(error) from error
        raise error

    def _began_write(self, conn: Connection) -> None:
        if self.engine_name == POSTGRESQL:
            from syncview.store.pg import take_write_lock

            take_write_lock(conn)

    def _ending_write(self, conn: Connection) -> None:
        if self.engine_name == POSTGRESQL:
            from syncview.store.changes import notify
            from syncview.store.pg import advance_ids

            advance_ids(conn)
            notify(conn)  # delivered to every live screen as this transaction commits, not before

    @contextmanager
    def coordinate(self) -> Iterator[Connection]:
        """One short transaction on the rows that coordinate processes (rate leases): immediate
        on SQLite, where it takes its turn with the writers for a moment (waiting at most the
        busy timeout); on PostgreSQL without the writers' lock, the caller taking a lock of its
        own, so a lease never waits for a sync's page to be written."""
        try:
            with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
                with conn.begin():
                    yield conn
        except Exception as error:
            self._reraise(error)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One connection held across several transactions: SQLite's temporary tables live
        per connection, and a pass that fills one page by page needs the same one throughout."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except Exception as error:
            self._reraise(error)

    def close(self) -> None:
        self.engine.dispose()


def connect(path: Path, *, read_only: bool = False, timeout: float = BUSY_TIMEOUT_S,
            check_same_thread: bool = True) -> sqlite3.Connection:
    """An SQLite connection to exactly the file at ``path``: the one way syncview opens one.

    The path goes into a ``file:`` URI percent-quoted, so a name holding ``?``, ``#`` or ``%``
    (``x?y.db``, ``a%41b.db``) opens that very file, never ``x`` or ``aAb.db``. ``read_only``
    opens it ``mode=ro``; when the file and its directory cannot be written (read-only media,
    a snapshot mount), ``immutable=1`` as well, since even a reader of a WAL store needs to make
    its ``-shm`` file beside it otherwise. Nothing can change such a file meanwhile.
    """
    options = []
    if read_only:
        options.append("mode=ro")
        if not os.access(path, os.W_OK) and not os.access(path.parent, os.W_OK):
            options.append("immutable=1")
    uri = "file:" + quote(str(path.absolute()), safe="/") + ("?" + "&".join(options) if options else "")
    return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=check_same_thread)


def _fold(text: str | None) -> str | None:
    return None if text is None else fold_case(text)


def _make_engine(path: Path) -> Engine:
    # A creator rather than a "sqlite:///..." URL: SQLAlchemy would read a "?" in the path as the
    # start of the URL's query. QueuePool is what SQLAlchemy gives a file database by URL.
    engine = create_engine(
        "sqlite://",
        creator=lambda: connect(path, check_same_thread=False),
        poolclass=QueuePool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN, so writers can ask for IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()
        # The name filter's "any case" (domain.name_search); PostgreSQL defines it in SQL.
        dbapi_connection.create_function("syncview_fold", 1, _fold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path} is a directory; give the path of a store file (e.g. {path / 'syncview.db'})")
    if path.exists() and not path.is_file():
        raise StoreError(f"{path} is not a regular file (a device or a pipe); give the path of a store file")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                raise StoreError(f"{path} is not a syncview store (not an SQLite database); choose another --db path")


def _schema_state(conn: Connection, path: Path) -> tuple[int, int, bool]:
    version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
    app_id = conn.exec_driver_sql("PRAGMA application_id").scalar_one()
    has_tables = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'table'").scalar_one() > 0
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
        raise StoreError(f"{path} is an SQLite database but not a syncview store; choose another --db path")
    return version, app_id, has_tables


def _backup(path: Path, version: int) -> Path:
    target = path.with_name(f"{path.name}.schema{version}.bak")
    source = sqlite3.connect(path)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
    except sqlite3.Error as error:  # no migration without its backup
        raise StoreError(f"{path} needs upgrading to schema {SCHEMA_VERSION} but its backup {target} cannot be "
                         f"written ({error}); free some space or fix the directory's permissions and retry; "
                         "the store is unchanged") from None
    finally:
        source.close()
    return target


def _use_wal(engine: Engine) -> None:
    with engine.connect() as conn:
        # On the driver connection: outside a transaction, where SQLite allows the switch.
        try:
            sqlite_connection(conn).execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            pass  # a read-only store keeps the journal mode it has; reads still work


def _prepare_schema(engine: Engine, path: Path) -> None:
    with engine.connect() as conn:
        version, _, has_tables = _schema_state(conn, path)
        conn.rollback()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer syncview (schema {version}; this one reads up to "
            f"{SCHEMA_VERSION}): upgrade syncview, or use another --db path"
        )
    # WAL lets the screen read while a sync writes. It is a property of the file, so it is
    # set only now that the file is known to be ours: a refused file is left untouched.
    _use_wal(engine)
    if not has_tables:
        with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            SQLModel.metadata.create_all(conn)
            models.coordination.create_all(conn)
            derived.create(conn, backfill=False)
            conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return
    if version < SCHEMA_VERSION:
        _backup(path, version)
        with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


def open_store(path: Path | str | None = None, *, password: str | None = None) -> Store:
    """Open (creating or migrating as needed) the store at ``path`` or the default one.

    ``path`` may be a PostgreSQL URL (``postgresql://user@host:port/db``); ``password`` is then
    the password to use when the URL holds none (else libpq's PGPASSWORD and ~/.pgpass).

    Raises :class:`StoreError` with an operator-facing message when the file is not a
    syncview store, is from a newer syncview, is locked, read-only or on a full disk (or the
    server cannot be reached, refuses the login, has no such database).
    """
    if is_store_url(path):
        from syncview.store.pg import open_postgres

        return open_postgres(str(path), password=password)
    path = Path(path).expanduser() if path else default_store_path()
    _check_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the directory for the store {path}: {error.strerror}") from error
    engine = _make_engine(path)
    try:
        _prepare_schema(engine, path)
    except DBAPIError as error:
        engine.dispose()
        raise translate(error, path) from error
    except BaseException:
        engine.dispose()
        raise
    return Store(path, engine)
