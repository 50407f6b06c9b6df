"""A PostgreSQL server for the tests: named by SYNCVIEW_TEST_PG, one database per test, dropped after.

Without SYNCVIEW_TEST_PG the PostgreSQL cases skip, saying why; with SYNCVIEW_TEST_PG_REQUIRED=1
(as .ci/run sets) a missing or unreachable server fails them instead.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import make_url

#: e.g. postgresql://postgres@127.0.0.1:5432/test: a database to connect to; tests create their own.
URL = os.environ.get("SYNCVIEW_TEST_PG", "")
REQUIRED = os.environ.get("SYNCVIEW_TEST_PG_REQUIRED") == "1"
#: Every database the tests make starts with this, then the process id (pytest-xdist workers) and a uuid.
PREFIX = "syncview_test_"


def unavailable(reason: str) -> None:
    """Skip (or, when the server is required, fail) a PostgreSQL case."""
    if REQUIRED:
        pytest.fail(f"PostgreSQL is required (SYNCVIEW_TEST_PG_REQUIRED=1) but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL cases skipped: {reason}")


@dataclass
class Server:
    """The test server: makes databases (empty, or copies of a template) and drops them."""

    url: str
    made: list[str] = field(default_factory=list)

    def _admin(self):
        import psycopg

        return psycopg.connect(make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False),
                               autocommit=True, connect_timeout=5)

    def url_of(self, name: str) -> str:
        return make_url(self.url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of ``template`` if given); returns its URL."""
        name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def name_of(self, url: str) -> str:
        return make_url(url).database or ""


def connect_server() -> Server:
    """The server SYNCVIEW_TEST_PG names, checked reachable; skips or fails (see module doc) if not."""
    if not URL:
        unavailable("set SYNCVIEW_TEST_PG=postgresql://user@host:port/db to run them")
    server = Server(URL)
    try:
        server._admin().close()
    except Exception as error:  # noqa: BLE001 - any failure to connect means no server for the tests
        unavailable(f"cannot connect to {URL}: {' '.join(str(error).split())}")
    return server


#: The store's tables in the order their rows can be put back (a row's foreign keys first).
TABLES = ("integration", "client", "record", "resource", "resource_key", "record_key", "syncrun", "sync_log_entry",
          "audit_event", "meta", "resource_count")


@dataclass
class Shared:
    """One database of this test process, reset between tests instead of made anew: a test's store
    is emptied (TRUNCATE) or put back to the seeded demo (from a copy in schema ``snap``) in tens of
    milliseconds, where CREATE DATABASE takes most of a second on a busy machine."""

    server: Server
    url: str
    snapshot: bool = False

    def _connect(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def take_snapshot(self) -> None:
        with self._connect() as conn:
            conn.execute("DROP SCHEMA IF EXISTS snap CASCADE")
            conn.execute("CREATE SCHEMA snap")
            for table in (*TABLES, "syncview_schema"):
                conn.execute(f'CREATE TABLE snap."{table}" AS TABLE public."{table}"')
        self.snapshot = True

    def reset(self, *, demo: bool) -> None:
        """Empty the store, or put the seeded demo back; others' connections to it are ended first."""
        import psycopg

        with self._connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            with conn.transaction():
                names = ", ".join(f'public."{t}"' for t in (*TABLES, "rate_lease", "flight_lease"))  # no lease outlives its test
                conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                # A test may have marked the store as another schema's: it is put back too.
                conn.execute("DELETE FROM public.syncview_schema")
                conn.execute("INSERT INTO public.syncview_schema SELECT * FROM snap.syncview_schema")
                if demo:
                    conn.execute("SET LOCAL session_replication_role = replica")  # no triggers: counts copied too
                    for table in TABLES:
                        conn.execute(f'INSERT INTO public."{table}" SELECT * FROM snap."{table}"')
                    for table in ("integration", "client", "record", "resource", "syncrun", "sync_log_entry",
                                  "audit_event"):
                        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                     f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
        del psycopg


# --------------------------------------------------------------------------- reading a store as a test does


def _as_sqlite(value):
    """A value as SQLite would hand it back: times as its DATETIME text."""
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def pg_query(url: str, sql: str, *params) -> list[tuple]:
    """Rows of SQLite-spelt SQL on a PostgreSQL store, times as SQLite's text."""
    import psycopg

    from syncview.store.dialect import pg_sql

    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute("SET timezone = 'UTC'")
        return [tuple(_as_sqlite(v) for v in row) for row in conn.execute(pg_sql(sql), params).fetchall()]


def pg_execute(url: str, sql: str, *params) -> None:
    """One SQLite-spelt statement on a PostgreSQL store, committed."""
    import psycopg

    from syncview.store.dialect import pg_sql

    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute("SET timezone = 'UTC'")
        conn.execute(pg_sql(sql), params)


def pg_snapshot(url: str) -> list[str]:
    """Everything a PostgreSQL store holds (its schema version and every row), for before/after checks."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        lines = []
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                                             " ORDER BY tablename")]
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            lines += sorted(f"{table}: {row!r}" for row in rows)
        columns = conn.execute("SELECT table_name, column_name, data_type, collation_name FROM"
                               " information_schema.columns WHERE table_schema = 'public'").fetchall()
        return lines + sorted(map(repr, columns))
