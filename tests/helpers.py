"""Small readers of the store for assertions, so tests check what really landed."""

from __future__ import annotations

import json

import pytest

from syncview.services import queries
from syncview.store import Store, raw_connection


def rows(store: Store, sql: str, *params) -> list[tuple]:
    """Rows of an SQL query (``?`` parameters) on either engine."""
    with store.read() as conn:
        return [tuple(r) for r in raw_connection(conn).execute(sql, params).fetchall()]


def audit(store: Store, resource_id: int) -> list[dict]:
    return [
        {"operator": op, "action": action, "before": json.loads(before), "after": json.loads(after)}
        for op, action, before, after in rows(
            store, "SELECT operator, action, before, after FROM audit_event WHERE resource_id = ? ORDER BY id",
            resource_id)
    ]


def record_disabled(store: Store, record_id: int) -> bool:
    return bool(rows(store, "SELECT disabled FROM record WHERE id = ?", record_id)[0][0])


def first(store: Store, **filters) -> queries.ResourceRow:
    """The first resource (by name) of the first demo integration matching the filters."""
    integration = filters.pop("integration", "ConnectWise Manage")
    flt = queries.ResourceFilter(queries.get_integration(store, integration).id, **filters)
    return queries.resource_page(store, flt, limit=1)[0]


#: A test about SQLite itself (its file, pragmas, a store an older syncview wrote): it runs on
#: SQLite only, whatever engines the ``store`` fixtures cover.
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"])
