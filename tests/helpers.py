"""Small readers of the store for assertions, so tests check what really landed."""

from __future__ import annotations

import json

from syncview.services import queries
from syncview.store import Store


def rows(store: Store, sql: str, *params) -> list[tuple]:
    with store.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql, params).all()]


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
