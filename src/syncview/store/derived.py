"""Structures the engine keeps up to date from the resource table, so the screen never re-counts.

- ``resource_count``: resources per (integration, client, type, status), maintained by
  triggers. The tiles, the client picker and every count without a text filter read a
  few hundred rows of it instead of scanning a million resources.
- ``resource_name``: an FTS5 trigram index of ``resource.name_norm`` (external content,
  so names are stored once), maintained by triggers. A text filter of three or more
  characters looks its matches up instead of scanning every name. SQLite builds without
  FTS5 simply go without it; the queries fall back to scanning.

On PostgreSQL the same in its own terms: the counts by plpgsql triggers, and the name
index a pg_trgm GIN index on ``resource.name_norm`` (``LIKE '%text%'`` looks it up);
without the pg_trgm extension the queries scan, as on SQLite without FTS5. A bulk
load there (the demo seeder) COPYs its rows with the counting trigger standing aside
and recounts once (:func:`start_bulk_load`, :func:`finish_bulk_load`), then gives the
planner statistics (:func:`analyze`, :func:`vacuum_after_bulk_load`).

Triggers rather than code in the services: every writer (sync, seed, actions, undo, a
future one) keeps them right without knowing they exist.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, Engine, column, literal, table, text

from syncview.store.dialect import POSTGRESQL, engine_of

#: Client id the counts use for "no local client" (the column is part of the primary key).
NO_CLIENT = 0

#: The counts table for queries (created by the DDL below, not by SQLModel's metadata).
resource_count = table(
    "resource_count", column("integration_id"), column("client_id"), column("type"), column("status"),
    column("n"),
)

_COUNTS = """
CREATE TABLE IF NOT EXISTS resource_count (
    integration_id INTEGER NOT NULL,
    client_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (integration_id, client_id, type, status)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS resource_count_insert AFTER INSERT ON resource BEGIN
    INSERT INTO resource_count VALUES (NEW.integration_id, coalesce(NEW.client_id, 0), NEW.type, NEW.status, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS resource_count_delete AFTER DELETE ON resource BEGIN
    UPDATE resource_count SET n = n - 1
    WHERE integration_id = OLD.integration_id AND client_id = coalesce(OLD.client_id, 0)
      AND type = OLD.type AND status = OLD.status;
END;

CREATE TRIGGER IF NOT EXISTS resource_count_update
AFTER UPDATE OF integration_id, client_id, type, status ON resource
WHEN OLD.integration_id IS NOT NEW.integration_id OR OLD.client_id IS NOT NEW.client_id
  OR OLD.type IS NOT NEW.type OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE resource_count SET n = n - 1
    WHERE integration_id = OLD.integration_id AND client_id = coalesce(OLD.client_id, 0)
      AND type = OLD.type AND status = OLD.status;
    INSERT INTO resource_count VALUES (NEW.integration_id, coalesce(NEW.client_id, 0), NEW.type, NEW.status, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
"""

_COUNTS_BACKFILL = """
INSERT INTO resource_count
SELECT integration_id, coalesce(client_id, 0), type, status, count(*) FROM resource
GROUP BY integration_id, coalesce(client_id, 0), type, status;
"""

_NAMES = """
CREATE VIRTUAL TABLE IF NOT EXISTS resource_name USING fts5(
    name_norm, content='resource', content_rowid='id', tokenize='trigram'
);

CREATE TRIGGER IF NOT EXISTS resource_name_insert AFTER INSERT ON resource BEGIN
    INSERT INTO resource_name (rowid, name_norm) VALUES (NEW.id, NEW.name_norm);
END;

CREATE TRIGGER IF NOT EXISTS resource_name_delete AFTER DELETE ON resource BEGIN
    INSERT INTO resource_name (resource_name, rowid, name_norm) VALUES ('delete', OLD.id, OLD.name_norm);
END;

CREATE TRIGGER IF NOT EXISTS resource_name_update AFTER UPDATE OF name_norm ON resource
WHEN OLD.name_norm IS NOT NEW.name_norm
BEGIN
    INSERT INTO resource_name (resource_name, rowid, name_norm) VALUES ('delete', OLD.id, OLD.name_norm);
    INSERT INTO resource_name (rowid, name_norm) VALUES (NEW.id, NEW.name_norm);
END;
"""

_NAMES_BACKFILL = "INSERT INTO resource_name (resource_name) VALUES ('rebuild');"


_PG_COUNTS = """
CREATE TABLE IF NOT EXISTS resource_count (
    integration_id INTEGER NOT NULL,
    client_id INTEGER NOT NULL,
    type VARCHAR COLLATE "C" NOT NULL,
    status VARCHAR COLLATE "C" NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (integration_id, client_id, type, status)
);

CREATE TRIGGER resource_count_insert_delete AFTER INSERT OR DELETE ON resource
FOR EACH ROW EXECUTE FUNCTION resource_count_change();

CREATE TRIGGER resource_count_update AFTER UPDATE OF integration_id, client_id, type, status ON resource
FOR EACH ROW WHEN (OLD.integration_id IS DISTINCT FROM NEW.integration_id OR OLD.client_id IS DISTINCT FROM NEW.client_id
  OR OLD.type IS DISTINCT FROM NEW.type OR OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION resource_count_change();
"""

#: The counting trigger's function on PostgreSQL. Replaced every time a store is opened
#: (:func:`refresh_pg`), so a store made by an older syncview counts as today's does.
_PG_COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION resource_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('syncview.bulk_load', true) = 'on' THEN
        RETURN NULL;  -- a bulk load recounts its integrations once at its end (finish_bulk_load)
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE resource_count SET n = n - 1
        WHERE integration_id = OLD.integration_id AND client_id = coalesce(OLD.client_id, 0)
          AND type = OLD.type AND status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO resource_count VALUES (NEW.integration_id, coalesce(NEW.client_id, 0), NEW.type, NEW.status, 1)
        ON CONFLICT (integration_id, client_id, type, status) DO UPDATE SET n = resource_count.n + 1;
    END IF;
    RETURN NULL;
END $$
"""

#: A transaction-local setting: while it is ``on`` the counting trigger does nothing, and the
#: bulk loader recounts what it loaded once (:func:`start_bulk_load`, :func:`finish_bulk_load`).
BULK_LOAD_SETTING = "syncview.bulk_load"

#: The trigram index of names on PostgreSQL (pg_trgm's GIN operator class answers LIKE '%x%').
PG_NAME_INDEX = "ix_resource_name_trgm"


def create(conn: Connection, *, backfill: bool) -> None:
    """Create the derived tables and their triggers; ``backfill`` fills them from existing rows."""
    if engine_of(conn) == POSTGRESQL:
        _create_pg(conn, backfill=backfill)
        return
    _script(conn, _COUNTS)
    if backfill:
        _script(conn, _COUNTS_BACKFILL)
    if fts5_trigram_available(conn):
        _script(conn, _NAMES)
        if backfill:
            _script(conn, _NAMES_BACKFILL)


def _create_pg(conn: Connection, *, backfill: bool) -> None:
    conn.exec_driver_sql(_PG_COUNT_FUNCTION)
    for statement in _PG_COUNTS.strip().split(";\n\n"):
        conn.exec_driver_sql(statement.strip().rstrip(";"))
    if backfill:
        _script(conn, _COUNTS_BACKFILL)
    if pg_trgm_available(conn):
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {PG_NAME_INDEX} ON resource USING gin (name_norm gin_trgm_ops)")


#: The tables a bulk load fills, whose statistics (and, after it, visibility) are refreshed.
_LOADED_TABLES = ("resource", "resource_key", "record", "record_key", "client", "resource_count", "audit_event",
                  "sync_log_entry")


def refresh_pg(conn: Connection) -> None:
    """Put today's definition of the counting trigger's function in a PostgreSQL store that has
    the counts (every store of schema 2 and later): no table lock, so done at every open."""
    if conn.exec_driver_sql("SELECT to_regclass('resource_count') IS NOT NULL").scalar_one():
        conn.exec_driver_sql(_PG_COUNT_FUNCTION)


def start_bulk_load(conn: Connection) -> None:
    """Begin loading many resources in this transaction. On PostgreSQL the kept counts stop
    following each row (a trigger call and an upsert per row is most of a COPY's cost) until
    :func:`finish_bulk_load` recounts the loaded integrations; SQLite's triggers are function
    calls and keep counting. Writers take turns (the store's write lock), so no other writer's
    rows go uncounted meanwhile."""
    if engine_of(conn) == POSTGRESQL:
        conn.exec_driver_sql(f"SELECT set_config('{BULK_LOAD_SETTING}', 'on', true)")


def analyze(conn: Connection) -> None:
    """Give PostgreSQL's planner statistics of what was just loaded (in this transaction, too:
    ANALYZE reads the transaction's own rows). Without them a freshly loaded table is planned
    as nearly empty: nested loops over tens of thousands of rows, seconds per query. SQLite's
    queries are shaped to plan without statistics and are left so."""
    if engine_of(conn) == POSTGRESQL:
        conn.exec_driver_sql("ANALYZE " + ", ".join(_LOADED_TABLES))


#: During a long write (a sync), the tables are analysed again once it added this share of
#: the rows they had when last analysed, and at least :data:`ANALYZE_AT_LEAST` rows.
ANALYZE_SHARE = 0.5
ANALYZE_AT_LEAST = 1_000


def analyze_grown(conn: Connection, added: int) -> bool:
    """On PostgreSQL, ANALYZE the loaded tables when a long write has added ``added`` resources
    since it last did (or since it began), and that is much against what the statistics know
    (see :data:`ANALYZE_SHARE`); says whether it did. A sync calls it after each page: without
    it every page of a first sync into an empty store is planned as if the tables were empty
    (a 60,000-item RMM sync: 142 s against 6 s on SQLite). Growing from nothing, the tables are
    analysed as they double, a handful of times at any size. Nothing on SQLite (its queries are
    shaped to plan without statistics)."""
    if engine_of(conn) != POSTGRESQL or added < ANALYZE_AT_LEAST:
        return False
    known = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'resource'::regclass").scalar_one()
    if added < max(float(known), 0.0) * ANALYZE_SHARE:  # -1: never analysed
        return False
    analyze(conn)
    return True


def finish_bulk_load(conn: Connection, integration_ids: Iterable[int]) -> None:
    """End :func:`start_bulk_load`: the kept counts of these integrations (all that the load
    wrote resources of) recounted from their rows, and the triggers counting again. Once the
    transaction has committed, :func:`vacuum_after_bulk_load` refreshes the planner's view."""
    if engine_of(conn) != POSTGRESQL:
        return
    ids = sorted(set(integration_ids))
    if ids:
        conn.execute(text("DELETE FROM resource_count WHERE integration_id = ANY(:ids)"), {"ids": ids})
        conn.execute(text(
            "INSERT INTO resource_count SELECT integration_id, coalesce(client_id, 0), type, status, count(*)"
            " FROM resource WHERE integration_id = ANY(:ids) GROUP BY 1, 2, 3, 4"), {"ids": ids})
    conn.exec_driver_sql(f"SELECT set_config('{BULK_LOAD_SETTING}', 'off', true)")


def vacuum_after_bulk_load(conn: Connection) -> None:
    """After a bulk load has committed: on PostgreSQL, VACUUM (ANALYZE) the loaded tables, so that
    the screen's counts and pages read their covering indexes alone (index-only scans need the
    visibility map that only VACUUM sets) from the first screen on, instead of after autovacuum
    gets round to it. ``conn`` is a connection outside any transaction. Nothing on SQLite."""
    if engine_of(conn) != POSTGRESQL:
        return
    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    conn.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(_LOADED_TABLES))


def pg_trgm_available(conn: Connection) -> bool:
    """pg_trgm installed in this database, or installable by this user (a trusted extension)."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - not available or not allowed: the queries scan instead
        return False
    return True


#: Whether each open PostgreSQL store has the name index, asked once per engine: the question is
#: a catalogue query (a round trip) that every keystroke of a filter would otherwise repeat.
_PG_NAME_INDEX_KNOWN: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def has_name_index(conn: Connection) -> bool:
    """Whether this store has the trigram name index (a store made where FTS5 or pg_trgm was
    missing has not).

    On PostgreSQL the answer is kept for the engine's life: the index is made only when the
    store is made or migrated, which happens as it is opened, before any filter asks; and the
    filter's LIKE answers the same rows with or without it, should someone drop it meanwhile.
    (SQLite's answer is a function call, and its filter needs the FTS table to exist: asked each time.)"""
    if engine_of(conn) == POSTGRESQL:
        known = _PG_NAME_INDEX_KNOWN.get(conn.engine)
        if known is None:
            known = _PG_NAME_INDEX_KNOWN[conn.engine] = conn.exec_driver_sql(
                "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %(name)s",
                {"name": PG_NAME_INDEX}).first() is not None
        return known
    found = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'resource_name'").first()
    return found is not None


def name_matches(conn: Connection, norm: str, cap: int) -> int:
    """How many resources' normalised names hold ``norm`` (three characters or more), counted
    through the name index up to ``cap`` + 1."""
    count: int
    if engine_of(conn) == POSTGRESQL:
        count = conn.execute(
            text("SELECT count(*) FROM (SELECT 1 FROM resource WHERE name_norm LIKE :pattern LIMIT :cap) AS m"),
            {"pattern": _like_pattern(norm), "cap": cap + 1}).scalar_one()
        return count
    count = conn.exec_driver_sql(
        "SELECT count(*) FROM (SELECT rowid FROM resource_name WHERE resource_name MATCH ? LIMIT ?)",
        (_fts_phrase(norm), cap + 1)).scalar_one()
    return count


def name_match(conn: Connection, id_column: ColumnElement[int], name_norm: ColumnElement[str],
               norm: str) -> ColumnElement[bool]:
    """A condition: the resource's normalised name holds ``norm``, looked up in the name index."""
    if engine_of(conn) == POSTGRESQL:
        return name_norm.like(literal(_like_pattern(norm)), escape="\\")
    return id_column.in_(text("SELECT rowid FROM resource_name WHERE resource_name MATCH :match")
                         .bindparams(match=_fts_phrase(norm)))


def _fts_phrase(norm: str) -> str:
    return '"' + norm.replace('"', '""') + '"'


def _like_pattern(norm: str) -> str:
    escaped = norm.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts5_trigram_available(conn: Connection) -> bool:
    """FTS5 with the trigram tokenizer needs SQLite 3.34 built with FTS5."""
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.probe_trigram USING fts5(x, tokenize='trigram')")
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    conn.exec_driver_sql("DROP TABLE temp.probe_trigram")
    return True


def _script(conn: Connection, script: str) -> None:
    # Statements one by one through the transaction's own connection: executescript would commit.
    for statement in _statements(script):
        conn.exec_driver_sql(statement)


def _statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies (``BEGIN ... END;``) whole."""
    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
