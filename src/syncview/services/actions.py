"""Operator actions: re-match, exclude, include, undo.

Each action is one write transaction that changes the resource (and maybe its
records), writes an audit event with exact before/after snapshots, and writes a
sync log entry, together or not at all. An action carrying the version it read
is refused if the resource changed since, rather than applied over that change.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from syncview.domain import ResourceType, SyncStatus
from syncview.errors import ActionError, NotFoundError, StaleResourceError
from syncview.store import Store
from syncview.store.db import utcnow
from syncview.store.models import AuditEvent, Record, Resource, SyncLogEntry

R = Resource.__table__.c
REC = Record.__table__.c
A = AuditEvent.__table__.c


def current_operator() -> str:
    """Who is acting: ``SYNCVIEW_OPERATOR`` if set, else the OS user."""
    return os.environ.get("SYNCVIEW_OPERATOR") or getpass.getuser()


@dataclass(frozen=True, slots=True)
class ActionResult:
    batch: str
    action: str
    #: one line saying what was done, for a notification or the CLI
    message: str
    resource_ids: tuple[int, ...]


@dataclass(slots=True)
class _Resource:
    id: int
    integration_id: int
    type: ResourceType
    name: str
    status: SyncStatus
    record_id: int | None
    client_id: int | None
    version: int
    updated_by: str | None
    updated_at: Any

    def state(self) -> dict[str, Any]:
        return {"status": self.status.value, "record_id": self.record_id,
                "client_id": self.client_id, "version": self.version}

    @property
    def label(self) -> str:
        return f"{self.type.value} {self.name!r}"


def _load(conn: Connection, resource_id: int, expected_version: int | None) -> _Resource:
    row = conn.execute(
        select(R.id, R.integration_id, R.type, R.name, R.status, R.record_id, R.client_id,
               R.version, R.updated_by, R.updated_at).where(R.id == resource_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no resource with id {resource_id}")
    resource = _Resource(row[0], row[1], ResourceType(row[2]), row[3], SyncStatus(row[4]), *row[5:])
    if expected_version is not None and resource.version != expected_version:
        raise StaleResourceError(_changed_message(resource))
    return resource


def _changed_message(resource: _Resource) -> str:
    who = resource.updated_by or "a sync"
    when = f" at {resource.updated_at:%Y-%m-%d %H:%M:%S} UTC" if resource.updated_at else ""
    return f"{resource.label} was changed by {who}{when}; reload and try again"


def _record(conn: Connection, record_id: int) -> tuple[ResourceType, str, bool, int | None]:
    row = conn.execute(select(REC.type, REC.name, REC.disabled, REC.client_id).where(REC.id == record_id)).first()
    if row is None:
        raise NotFoundError(f"no record with id {record_id}")
    return ResourceType(row[0]), row[1], bool(row[2]), row[3]


class _Batch:
    """Writes of one action: resource and record changes, audit events and log lines."""

    def __init__(self, conn: Connection, action: str, operator: str) -> None:
        self.conn = conn
        self.action = action
        self.operator = operator
        self.id = uuid.uuid4().hex
        self.now = utcnow()
        self.resource_ids: list[int] = []

    def set_disabled(self, record_id: int, disabled: bool, before: dict, after: dict) -> None:
        was = bool(self.conn.execute(select(REC.disabled).where(REC.id == record_id)).scalar_one())
        if was == disabled:
            return
        before.setdefault("records", {})[str(record_id)] = {"disabled": was}
        after.setdefault("records", {})[str(record_id)] = {"disabled": disabled}
        self.conn.execute(update(Record.__table__).where(REC.id == record_id)
                          .values(disabled=disabled, updated_at=self.now))

    def apply(self, resource: _Resource, changes: dict[str, Any], before: dict, after: dict,
              message: str, *, action: str | None = None) -> None:
        """Write the resource's new state, its audit event and its log line."""
        before.update(resource.state())
        version = resource.version + 1
        self.conn.execute(
            update(Resource.__table__).where(R.id == resource.id)
            .values(**changes, version=version, updated_by=self.operator, updated_at=self.now)
        )
        after.update({**resource.state(), **changes, "version": version})
        self.conn.execute(insert(AuditEvent.__table__).values(
            batch=self.id, time=self.now, operator=self.operator, action=action or self.action,
            integration_id=resource.integration_id, resource_id=resource.id,
            before=json.dumps(before, sort_keys=True), after=json.dumps(after, sort_keys=True),
        ))
        self.conn.execute(insert(SyncLogEntry.__table__).values(
            integration_id=resource.integration_id, time=self.now, level="info",
            message=f"{self.operator}: {message}", resource_id=resource.id,
        ))
        self.resource_ids.append(resource.id)

    def result(self, message: str) -> ActionResult:
        return ActionResult(self.id, self.action, message, tuple(self.resource_ids))


def rematch(
    store: Store,
    resource_id: int,
    record_id: int,
    *,
    disable_previous: bool = False,
    expected_version: int | None = None,
    operator: str | None = None,
) -> ActionResult:
    """Link a resource to another local record of the same type.

    The new record is enabled if it was disabled; with ``disable_previous`` the record
    the resource was linked to before is disabled.
    """
    with store.write() as conn:
        resource = _load(conn, resource_id, expected_version)
        rtype, rname, rdisabled, rclient = _record(conn, record_id)
        if rtype is not resource.type:
            raise ActionError(f"record {rname!r} is a {rtype.value}; {resource.label} can only be "
                              f"matched to a {resource.type.value} record")
        if resource.status is SyncStatus.MATCHED and resource.record_id == record_id:
            raise ActionError(f"{resource.label} is already matched to {rname!r}")
        other = conn.execute(select(R.id, R.name).where(
            R.integration_id == resource.integration_id, R.record_id == record_id, R.id != resource.id
        )).first()
        if other is not None:
            raise ActionError(f"record {rname!r} is already matched to {other[1]!r} (resource {other[0]}) in "
                              f"this integration; re-match or exclude that one first")
        batch = _Batch(conn, "rematch", operator or current_operator())
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        message = f"re-matched {resource.label} to record {rname!r}"
        previous = resource.record_id
        if disable_previous and previous is not None:
            batch.set_disabled(previous, True, before, after)
            message += f", disabled previous record {_record(conn, previous)[1]!r}"
        if rdisabled:
            batch.set_disabled(record_id, False, before, after)
            message += " (re-enabled it)"
        changes = {"status": SyncStatus.MATCHED.value, "record_id": record_id, "client_id": rclient}
        batch.apply(resource, changes, before, after, message)
        return batch.result(message)


def exclude(
    store: Store,
    resource_id: int,
    *,
    disable_record: bool = False,
    expected_version: int | None = None,
    operator: str | None = None,
) -> ActionResult:
    """Mark a resource never to be synced; unlink it, and with ``disable_record`` disable its record."""
    with store.write() as conn:
        resource = _load(conn, resource_id, expected_version)
        if resource.status is SyncStatus.EXCLUDED:
            raise ActionError(f"{resource.label} is already excluded")
        batch = _Batch(conn, "exclude", operator or current_operator())
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        message = f"excluded {resource.label}"
        if disable_record and resource.record_id is not None:
            batch.set_disabled(resource.record_id, True, before, after)
            message += f" and disabled record {_record(conn, resource.record_id)[1]!r}"
        batch.apply(resource, {"status": SyncStatus.EXCLUDED.value, "record_id": None}, before, after, message)
        return batch.result(message)


def include(
    store: Store,
    resource_id: int,
    *,
    expected_version: int | None = None,
    operator: str | None = None,
) -> ActionResult:
    """Undo an exclusion: the resource is Not Synced again and the next sync matches it."""
    with store.write() as conn:
        resource = _load(conn, resource_id, expected_version)
        if resource.status is not SyncStatus.EXCLUDED:
            raise ActionError(f"{resource.label} is not excluded ({resource.status.label})")
        batch = _Batch(conn, "include", operator or current_operator())
        message = f"included {resource.label} again (Not Synced until matched)"
        batch.apply(resource, {"status": SyncStatus.NOT_SYNCED.value}, {}, {}, message)
        return batch.result(message)


#: Resource fields an action changes and its undo puts back.
_RESTORED = ("status", "record_id", "client_id")


def undo(store: Store, *, operator: str | None = None) -> ActionResult:
    """Revert the operator's last action not yet undone, exactly, if nothing changed since."""
    operator = operator or current_operator()
    with store.write() as conn:
        last = conn.execute(
            select(A.batch).where(A.operator == operator, A.action != "undo", A.undone_by.is_(None))
            .order_by(A.id.desc()).limit(1)
        ).scalar()
        if last is None:
            raise ActionError(f"nothing to undo for {operator}")
        events = conn.execute(
            select(A.id, A.action, A.resource_id, A.before, A.after).where(A.batch == last).order_by(A.id.desc())
        ).all()
        batch = _Batch(conn, "undo", operator)
        messages = []
        for event_id, action, resource_id, before_json, after_json in events:
            was, now = json.loads(before_json), json.loads(after_json)
            resource = _load(conn, resource_id, None)
            # Compare what the action set, not the version: an undone later action bumped the
            # version but put back exactly the state this one left, which is safe to revert.
            if any(resource.state()[key] != now[key] for key in _RESTORED):
                raise StaleResourceError(f"cannot undo {action} of {resource.label}: "
                                         + _changed_message(resource))
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            for record_id, state in was.get("records", {}).items():
                batch.set_disabled(int(record_id), state["disabled"], before, after)
            changes = {key: was[key] for key in _RESTORED}
            message = f"undid {action} of {resource.label} (back to {SyncStatus(was['status']).label})"
            batch.apply(resource, changes, before, after, message)
            messages.append(message)
            conn.execute(update(AuditEvent.__table__).where(A.id == event_id).values(undone_by=batch.id))
        summary = messages[0] if len(messages) == 1 else f"undid {events[0][1]} of {len(messages)} resources"
        return batch.result(summary)
