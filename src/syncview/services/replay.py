"""Bringing the actions taken on an offline copy back to the team store (``syncview replay COPY``).

An operator takes a copy of the team store on the road (``syncview backup``), reviews it with no
network, and re-matches, excludes, includes, undoes there as anywhere. Back on the network, each
action (each audit batch) the team store has not seen is applied to it, oldest first:

- with the same optimistic check as any action: every resource it changed must still be at the
  version the copy had before the action, and every record whose disabled flag it changed must
  still be as it was; otherwise the action is a conflict, listed with who changed what and when,
  and nothing of it is applied (a bulk action lands whole or not at all, as on the copy);
- under the copy's batch id, operator and time, so the team store's history shows who decided
  and when, undo treats it as that operator's action, and an action already brought back (its
  batch is in the team store's audit) is never applied twice: running replay again is safe;
- resources are found by what they are (integration, type, external id), not by row id, and a
  record it links to must be the same record (type and name) in the team store.

Reads the copy read-only, so the copy stays as it was and can be replayed again after conflicts
are settled. Engine-neutral: the team store may be SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from syncview.domain import SyncStatus
from syncview.errors import StoreError
from syncview.services import actions
from syncview.services.backup import COPY_KEY, inspect_store
from syncview.store import Store
from syncview.store.db import SCHEMA_VERSION, connect
from syncview.store.models import audit_table, integration_table, meta_table, record_table, resource_table

A = audit_table.c
R = resource_table.c
REC = record_table.c
I = integration_table.c  # noqa: E741 - the integration table's columns, as R and REC are

#: Resource fields an action sets (actions._RESTORED), compared and applied.
_FIELDS = actions._RESTORED


@dataclass(frozen=True, slots=True)
class Replayed:
    """One action of the copy and what became of it in the team store."""

    batch: str
    time: datetime
    operator: str
    action: str
    resources: int
    #: for an applied action what it did; for a conflict why it was not applied
    message: str


@dataclass(slots=True)
class ReplayReport:
    """What ``replay`` did: applied actions, conflicts (not applied), and how many were already there."""

    applied: list[Replayed] = field(default_factory=list)
    conflicts: list[Replayed] = field(default_factory=list)
    already: int = 0


@dataclass(slots=True)
class _Event:
    id: int
    resource_id: int | None
    before: dict[str, Any]
    after: dict[str, Any]
    #: (integration name, type, external id) of the resource in the copy
    key: tuple[str, str, str] | None
    name: str | None
    #: (type, name) in the copy of the record the action linked the resource to, if any
    record: tuple[str, str] | None = None


@dataclass(slots=True)
class _Batch:
    batch: str
    time: datetime
    operator: str
    action: str
    events: list[_Event]
    #: batches of the copy this one undid (for an undo or redo)
    undid: list[str]


def replay(store: Store, copy: Path) -> ReplayReport:
    """Apply to ``store`` the actions taken on the offline ``copy`` that it has not seen; see the
    module docstring. StoreError when ``copy`` is no syncview store this syncview reads."""
    copy = copy.expanduser().absolute()
    facts = inspect_store(copy, check_integrity=False)
    if facts.schema_version != SCHEMA_VERSION:
        raise StoreError(f"{copy} is a store of schema {facts.schema_version}; open it once with this syncview "
                         f"(`syncview --db {copy} status`) to bring it to schema {SCHEMA_VERSION}, then replay it")
    if store.engine.dialect.name == "sqlite" and Path(str(getattr(store, "path", ""))).absolute() == copy:
        raise StoreError(f"{copy} is the store itself; name the offline copy to bring back")
    with _read_only(copy) as source:
        with source.connect() as conn:
            made = conn.execute(select(meta_table.c.value).where(meta_table.c.key == COPY_KEY)).scalar()
            since = int(json.loads(made).get("audit_id", 0)) if made else 0
            batches = list(_batches(conn, since))
    report = ReplayReport()
    with store.read() as conn:
        known = _known(conn, [b.batch for b in batches])
    for batch in batches:
        if batch.batch in known:
            report.already += 1
            continue
        try:
            with store.write() as conn:
                report.applied.append(_apply(conn, batch))
        except _Conflict as conflict:
            report.conflicts.append(_replayed(batch, str(conflict)))
    return report


@contextmanager
def _read_only(path: Path) -> Iterator[Engine]:
    engine = create_engine("sqlite://", creator=lambda: connect(path, read_only=True, check_same_thread=False),
                           poolclass=StaticPool)
    try:
        yield engine
    except DBAPIError as error:
        raise StoreError(f"cannot read the copy {path}: {error.orig}") from None
    finally:
        engine.dispose()


def _batches(conn: Connection, since: int) -> Iterator[_Batch]:
    """The copy's actions after audit event ``since`` (the copy's own: its history up to its making
    is the team store's), oldest first, with their events and each resource's identity."""
    rows = conn.execute(
        select(A.id, A.batch, A.time, A.operator, A.action, A.resource_id, A.before, A.after, A.undone_by,
               I.name.label("integration"), R.type, R.external_id, R.name)
        .select_from(audit_table.outerjoin(resource_table, R.id == A.resource_id)
                     .outerjoin(integration_table, I.id == R.integration_id))
        .where(A.id > since).order_by(A.id)).all()
    # What each undo (or redo) reverted, the copy's history before its making included.
    undid: dict[str, list[str]] = defaultdict(list)
    for batch_id, undone_by in conn.execute(
            select(A.batch, A.undone_by).where(A.undone_by.is_not(None)).distinct().order_by(A.batch)):
        undid[undone_by].append(batch_id)
    found: dict[str, _Batch] = {}
    for row in rows:
        batch = found.get(row.batch)
        if batch is None:
            batch = found[row.batch] = _Batch(row.batch, _aware(row.time), row.operator, row.action, [],
                                              undid.get(row.batch, []))
        key = (row.integration, row.type, row.external_id) if row.integration is not None else None
        batch.events.append(_Event(row.id, row.resource_id, json.loads(row.before), json.loads(row.after), key,
                                   row.name))
    linked = {e.after["record_id"] for b in found.values() for e in b.events if e.after.get("record_id") is not None}
    records = {row.id: (row.type, row.name) for row in conn.execute(
        select(REC.id, REC.type, REC.name).where(REC.id.in_(sorted(linked))))} if linked else {}
    for batch in found.values():
        for event in batch.events:
            event.record = records.get(event.after.get("record_id"))
    yield from found.values()


def _known(conn: Connection, batches: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(batches), 500):
        chunk = batches[start:start + 500]
        known.update(conn.execute(select(A.batch).where(A.batch.in_(chunk)).distinct()).scalars())
    return known


class _Conflict(Exception):
    """Why an action of the copy cannot be applied to the team store as it stands."""


def _apply(conn: Connection, copied: _Batch) -> Replayed:
    """Apply one action of the copy in the open write transaction ``conn``; _Conflict if it cannot."""
    resources = _team_resources(conn, copied)
    records = {int(rid) for e in copied.events for rid in e.after.get("records", {})}
    disabled: dict[int, bool] = {row.id: bool(row.disabled) for row in conn.execute(
        select(REC.id, REC.disabled).where(REC.id.in_(sorted(records))))} if records else {}
    batch = actions._Batch(conn, copied.action, copied.operator)
    batch.id, batch.now = copied.batch, copied.time
    items: list[actions.Change] = []
    wanted: list[actions._Disable] = []
    for event in copied.events:
        resource = resources[event.id]
        if resource.version != event.before.get("version"):
            raise _Conflict(f"{resource.label}: " + actions._changed_message(resource).replace(
                "; reload and try again", " after the copy was made"))
        linked = event.after.get("record_id")
        if linked is not None and linked != resource.record_id:
            _same_record(conn, linked, event)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for record_id, state in event.after.get("records", {}).items():
            was = event.before.get("records", {}).get(record_id, {}).get("disabled")
            if int(record_id) not in disabled:
                raise _Conflict(f"record {record_id} that {resource.label} changed is no longer in the team store")
            if disabled[int(record_id)] != was:
                raise _Conflict(f"record {record_id} (of {resource.label}) was "
                                f"{'disabled' if disabled[int(record_id)] else 'enabled'} in the team store after "
                                "the copy was made")
            wanted.append((int(record_id), bool(state["disabled"]), before, after))
        changes = {key: event.after.get(key) for key in _FIELDS}
        status = SyncStatus(event.after["status"]).label
        items.append(actions.Change(resource, changes, before, after,
                                    f"{copied.action} of {resource.label} replayed from an offline copy ({status})"))
    actions._set_disabled_many(batch, wanted)
    summary = items[0].message if len(items) == 1 else \
        f"{copied.action} of {len(items):,} resources replayed from an offline copy"
    actions._apply_many(batch, items, summary)
    if copied.undid:
        conn.execute(update(audit_table).where(A.batch.in_(copied.undid)).values(undone_by=copied.batch))
    return _replayed(copied, summary)


def _team_resources(conn: Connection, copied: _Batch) -> dict[int, Any]:
    """The team store's resource for each event of ``copied``, by integration, type and external id."""
    found: dict[int, Any] = {}
    for event in copied.events:
        if event.key is None:
            raise _Conflict(f"resource {event.resource_id} of the copy is gone from the copy itself")
        integration, type_, external_id = event.key
        row = conn.execute(select(R.id).select_from(resource_table.join(integration_table, I.id == R.integration_id))
                           .where(I.name == integration, R.type == type_, R.external_id == external_id)).first()
        if row is None:
            raise _Conflict(f"{type_} {event.name!r} of {integration} is no longer in the team store")
        found[event.id] = actions.load_many(conn, [row.id])[row.id]
    return found


def _same_record(conn: Connection, record_id: int, event: _Event) -> None:
    """The record an action links to is the same one (type and name) in the team store."""
    row = conn.execute(select(REC.type, REC.name).where(REC.id == record_id)).first()
    if row is None:
        raise _Conflict(f"record {record_id} that {event.name!r} was re-matched to is no longer in the team store")
    if event.record is not None and (row.type, row.name) != event.record:
        raise _Conflict(f"record {record_id} that {event.name!r} was re-matched to is another record in the team "
                        f"store ({row.type} {row.name!r}, not {event.record[0]} {event.record[1]!r})")


def _replayed(batch: _Batch, message: str) -> Replayed:
    return Replayed(batch.batch, batch.time, batch.operator, batch.action, len(batch.events), message)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

