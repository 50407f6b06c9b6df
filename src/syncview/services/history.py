"""The audit history: operators' actions, one line per action (batch), filterable, with their events.

Read-only; undo and redo are in :mod:`syncview.services.actions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from syncview.domain import SyncStatus
from syncview.store import Store
from syncview.store.dialect import JsonField
from syncview.store.models import audit_table, record_table, resource_table

A = audit_table.c
R = resource_table.c
REC = record_table.c

#: Every action name an audit event can carry, in the order the screen offers them.
ACTIONS = ("rematch", "exclude", "include", "undo", "redo")


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One operator action: all the audit events of one batch."""

    batch: str
    time: datetime
    operator: str
    action: str
    integration_id: int | None
    resources: int
    #: the first resource's type and name (the only one, for most actions)
    first_type: str | None
    first_name: str | None
    #: statuses of the first resource before and after
    before: SyncStatus | None
    after: SyncStatus | None
    #: batch of the undo that reverted it, if any
    undone_by: str | None

    @property
    def what(self) -> str:
        """``device 'X'`` or ``1 234 resources (device 'X', …)``."""
        first = f"{self.first_type} {self.first_name!r}" if self.first_name is not None else "a removed resource"
        return first if self.resources == 1 else f"{self.resources:,} resources ({first}, …)"

    @property
    def change(self) -> str:
        if self.before is None or self.after is None:
            return ""
        return f"{self.before.label} → {self.after.label}"


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    resource_id: int | None
    type: str | None
    name: str | None
    before: dict[str, Any]
    after: dict[str, Any]


def _status(state: str | None) -> SyncStatus | None:
    return SyncStatus(state) if state else None


def batches(
    store: Store,
    *,
    integration_id: int | None = None,
    operator: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[BatchRow]:
    """Operators' actions, newest first, each as one row however many resources it touched."""
    clauses = []
    if integration_id is not None:
        clauses.append(A.integration_id == integration_id)
    if operator:
        clauses.append(A.operator == operator)
    if action:
        clauses.append(A.action == action)
    if since is not None:
        clauses.append(A.time >= since)
    if until is not None:
        clauses.append(A.time < until)
    grouped = (
        select(A.batch, func.min(A.id).label("first"), func.count().label("n"))
        .where(*clauses).group_by(A.batch).order_by(func.max(A.time).desc(), func.max(A.id).desc())
        .limit(limit).subquery()
    )
    query = (
        select(A.batch, A.time, A.operator, A.action, A.integration_id, grouped.c.n, R.type, R.name,
               JsonField(A.before, "status"), JsonField(A.after, "status"), A.undone_by)
        .select_from(grouped.join(audit_table, A.id == grouped.c.first)
                     .outerjoin(resource_table, R.id == A.resource_id))
        .order_by(A.time.desc(), A.id.desc())
    )
    with store.read() as conn:
        found: list[Any] = list(conn.execute(query))
    return [BatchRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], _status(row[8]),
                     _status(row[9]), row[10]) for row in found]


def operators(store: Store) -> list[str]:
    """Everyone who has acted in this store, by name."""
    with store.read() as conn:
        return [row[0] for row in conn.execute(select(A.operator).distinct().order_by(A.operator))]


def batch_events(store: Store, batch: str, *, limit: int = 2000) -> list[EventRow]:
    """The audit events of one action (its resources, before and after), in the order written."""
    query = (
        select(A.id, A.resource_id, R.type, R.name, A.before, A.after)
        .select_from(audit_table.outerjoin(resource_table, R.id == A.resource_id))
        .where(A.batch == batch).order_by(A.id).limit(limit)
    )
    with store.read() as conn:
        return [EventRow(*row[:4], json.loads(row[4]), json.loads(row[5])) for row in conn.execute(query)]


def record_names(store: Store, states: Iterable[dict[str, Any]]) -> dict[int, str]:
    """The names of the records audit snapshots (``before``/``after``) mention, by id, for
    :func:`describe_state`."""
    states = list(states)
    ids = {int(state["record_id"]) for state in states if state.get("record_id")}
    ids |= {int(rid) for state in states for rid in state.get("records", {})}
    if not ids:
        return {}
    with store.read() as conn:
        return dict(conn.execute(select(REC.id, REC.name).where(REC.id.in_(ids))).all())


def _record(record_id: Any, names: Mapping[int, str]) -> str:
    """``record 'HQ-FW'``, or ``record 12`` when its name is not known."""
    return f"record {names[int(record_id)]!r}" if int(record_id) in names else f"record {record_id}"


def describe_records(records: Mapping[str, Any], names: Mapping[int, str] | None = None) -> list[str]:
    """``record 'Old HQ-FW' disabled`` for each record flag of an audit snapshot's ``records``."""
    return [f"{_record(record_id, names or {})} {'disabled' if flags['disabled'] else 'enabled'}"
            for record_id, flags in records.items()]


def describe_state(state: dict[str, Any], names: Mapping[int, str] | None = None) -> str:
    """``Matched to record 'HQ-FW', record 'Old HQ-FW' disabled`` — an audit snapshot in words;
    a record not in ``names`` is shown by its id."""
    parts = []
    if "status" in state:
        status = SyncStatus(state["status"]).label
        parts.append(f"{status} to {_record(state['record_id'], names or {})}" if state.get("record_id") else status)
    parts += describe_records(state.get("records", {}), names)
    return ", ".join(parts) or "—"
