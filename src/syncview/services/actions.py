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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Unpack

from sqlalchemy import ColumnElement, Connection, Row, bindparam, func, insert, select, update

from syncview.domain import ResourceType, SyncStatus
from syncview.errors import ActionError, NotFoundError, StaleResourceError
from syncview.services import history
from syncview.store import Store, raw_connection
from syncview.store.dialect import id_list
from syncview.store.db import db_time, utcnow
from syncview.store.models import audit_table, integration_table, record_table, resource_table, sync_log_table

R = resource_table.c
REC = record_table.c
A = audit_table.c


def current_operator(configured: str | None = None) -> str:
    """Who is acting, as the audit trail names them: ``SYNCVIEW_OPERATOR`` if set, else
    ``configured`` (the config's ``[operator] name``), else the login name."""
    named = os.environ.get("SYNCVIEW_OPERATOR") or configured
    if named:
        return named
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's uid without a passwd entry)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


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
    matched_on: str | None = None
    reason: str | None = None
    reason_kind: str | None = None

    def state(self) -> dict[str, Any]:
        return {"status": self.status.value, "record_id": self.record_id, "client_id": self.client_id,
                "version": self.version, "matched_on": self.matched_on, "reason": self.reason,
                "reason_kind": self.reason_kind}

    @property
    def label(self) -> str:
        return f"{self.type.value} {self.name!r}"


#: The columns a :class:`_Resource` is read from.
_RESOURCE_COLUMNS = (R.id, R.integration_id, R.type, R.name, R.status, R.record_id, R.client_id,
                     R.version, R.updated_by, R.updated_at, R.matched_on, R.reason, R.reason_kind)


def _resource(row: Row[Unpack[tuple[Any, ...]]]) -> _Resource:
    """A :class:`_Resource` from a row of :data:`_RESOURCE_COLUMNS`, read by name."""
    return _Resource(row.id, row.integration_id, ResourceType(row.type), row.name, SyncStatus(row.status),
                     row.record_id, row.client_id, row.version, row.updated_by, row.updated_at, row.matched_on,
                     row.reason, row.reason_kind)


def _load(conn: Connection, resource_id: int, expected_version: int | None) -> _Resource:
    row = conn.execute(select(*_RESOURCE_COLUMNS).where(R.id == resource_id)).first()
    if row is None:
        raise NotFoundError(f"no resource with id {resource_id}")
    resource = _resource(row)
    if expected_version is not None and resource.version != expected_version:
        raise StaleResourceError(_changed_message(resource))
    return resource


#: Why an included resource is Not Synced until the next sync gives the rules' reason.
INCLUDED_REASON = "included again by an operator; the next sync applies the matching rules"


def matched_by_operator(record_id: int, client_id: int | None) -> dict[str, Any]:
    """The changes of an operator's re-match: a sync never undoes a link whose ``matched_on`` is operator."""
    return {"status": SyncStatus.MATCHED.value, "record_id": record_id, "client_id": client_id,
            "matched_on": "operator", "reason": None, "reason_kind": None}


#: The changes of an exclusion and of an include.
EXCLUDED = {"status": SyncStatus.EXCLUDED.value, "record_id": None, "matched_on": None, "reason": None,
            "reason_kind": None}
INCLUDED = {"status": SyncStatus.NOT_SYNCED.value, "matched_on": None, "reason": INCLUDED_REASON,
            "reason_kind": "included"}


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

    def set_disabled(self, record_id: int, disabled: bool, before: dict[str, Any], after: dict[str, Any]) -> None:
        was = bool(self.conn.execute(select(REC.disabled).where(REC.id == record_id)).scalar_one())
        if was == disabled:
            return
        before.setdefault("records", {})[str(record_id)] = {"disabled": was}
        after.setdefault("records", {})[str(record_id)] = {"disabled": disabled}
        self.conn.execute(update(record_table).where(REC.id == record_id)
                          .values(disabled=disabled, updated_at=self.now))

    def apply(self, resource: _Resource, changes: dict[str, Any], before: dict[str, Any], after: dict[str, Any],
              message: str, *, action: str | None = None) -> None:
        """Write the resource's new state, its audit event and its log line."""
        before.update(resource.state())
        version = resource.version + 1
        self.conn.execute(
            update(resource_table).where(R.id == resource.id)
            .values(**changes, version=version, updated_by=self.operator, updated_at=self.now)
        )
        after.update({**resource.state(), **changes, "version": version})
        self.keep_created_keys(_unlinked_creators([(resource, after)]))
        self.conn.execute(insert(audit_table).values(
            batch=self.id, time=self.now, operator=self.operator, action=action or self.action,
            integration_id=resource.integration_id, resource_id=resource.id,
            before=json.dumps(before, sort_keys=True), after=json.dumps(after, sort_keys=True),
        ))
        self.conn.execute(insert(sync_log_table).values(
            integration_id=resource.integration_id, time=self.now, level="info",
            message=f"{self.operator}: {message}", resource_id=resource.id,
        ))
        self.resource_ids.append(resource.id)

    def keep_created_keys(self, unlinked: list[tuple[int, int]]) -> None:
        """Records created from resources now unlinked keep the keys they were created from
        (and the resource's own cross-reference), so other items still find them by those.
        ``unlinked``: (resource id, record id) pairs."""
        if not unlinked:
            return
        raw = raw_connection(self.conn)
        raw.executemany(
            "INSERT INTO record_key (record_id, kind, value)"
            " SELECT ?, k.kind, k.value FROM resource_key k WHERE k.resource_id = ? ON CONFLICT DO NOTHING",
            [(record_id, resource_id) for resource_id, record_id in unlinked])
        raw.executemany(
            "INSERT INTO record_key (record_id, kind, value)"
            " SELECT ?, 'xref', i.kind || ':' || r.type || ':' || r.external_id"
            " FROM resource r JOIN integration i ON i.id = r.integration_id WHERE r.id = ? ON CONFLICT DO NOTHING",
            [(record_id, resource_id) for resource_id, record_id in unlinked])

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
        batch.apply(resource, matched_by_operator(record_id, rclient), before, after, message)
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
        batch.apply(resource, EXCLUDED, before, after, message)
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
        batch.apply(resource, INCLUDED, {}, {}, message)
        return batch.result(message)


#: Resource fields an action changes and its undo puts back (snapshots from before schema 3
#: lack the last three: those come back as None).
_RESTORED = ("status", "record_id", "client_id", "matched_on", "reason", "reason_kind")
#: json.dumps(..., sort_keys=True) builds an encoder per call; a bulk action makes 20 000 calls.
_encode_sorted = json.JSONEncoder(sort_keys=True).encode
#: A batch of more resources than this logs one line with its count instead of a line per
#: resource (every resource still gets its own audit event, which history lists): an exclude
#: of ten and its undo are two log lines, not twenty burying the sync runs around them.
LOG_EACH_UP_TO = 1


def ids_param(ids: Iterable[int]) -> str:
    """Ids as one JSON parameter for ``IN (SELECT value FROM json_each(:ids))``: any number of
    ids in one statement, never SQLite's limit on bound variables."""
    return json.dumps(sorted(set(ids)))


def in_ids(column: ColumnElement[Any], ids: Iterable[int]) -> ColumnElement[bool]:
    """``column IN`` the given ids, as one (anonymous, so repeatable) bound parameter."""
    return id_list(column, bindparam(None, ids_param(ids)))


def load_where(conn: Connection, *clauses: ColumnElement[bool]) -> dict[int, _Resource]:
    """The resources the clauses select, by id, read in one statement."""
    rows = conn.execute(select(*_RESOURCE_COLUMNS).where(*clauses).order_by(R.id)).all()
    return {row.id: _resource(row) for row in rows}


def load_many(conn: Connection, resource_ids: Iterable[int]) -> dict[int, _Resource]:
    """The resources with these ids (missing ones are left out), read in one statement."""
    return load_where(conn, in_ids(R.id, resource_ids))


@dataclass(slots=True)
class Change:
    """One resource's part in a batch written by :meth:`_Batch.apply_many`."""

    resource: _Resource
    changes: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]
    message: str


def _unlinked_creators(changes: list[tuple[_Resource, dict[str, Any]]]) -> list[tuple[int, int]]:
    """(resource id, record id) of the resources a record was created from that these changes unlink."""
    return [(resource.id, resource.record_id) for resource, after in changes
            if resource.matched_on == "created" and resource.record_id is not None
            and after.get("record_id") != resource.record_id]


#: A record whose disabled flag an action sets: (record id, disabled, the resource's before, after).
_Disable = tuple[int, bool, dict[str, Any], dict[str, Any]]


def _set_disabled_many(batch: _Batch, wanted: list[_Disable]) -> int:
    """Set records' disabled flags, noting each real change in its resource's before/after;
    returns how many records changed. One read and one ``executemany``, whatever the count."""
    if not wanted:
        return 0
    current: dict[int, bool] = {row.id: row.disabled for row in batch.conn.execute(
        select(REC.id, REC.disabled).where(in_ids(REC.id, [w[0] for w in wanted])))}
    now = db_time(batch.now)
    updates = []
    for record_id, disabled, before, after in wanted:
        if record_id not in current:
            raise NotFoundError(f"no record with id {record_id}")
        was = bool(current[record_id])
        if was == disabled:
            continue
        before.setdefault("records", {})[str(record_id)] = {"disabled": was}
        after.setdefault("records", {})[str(record_id)] = {"disabled": disabled}
        current[record_id] = disabled
        updates.append((disabled, now, record_id))
    if updates:
        raw_connection(batch.conn).executemany(
            "UPDATE record SET disabled = ?, updated_at = ? WHERE id = ?", updates)
    return len(updates)


def _apply_many(batch: _Batch, items: list[Change], summary: str) -> None:
    """Write many resources' new states, an audit event each, and their log lines, through the
    DB-API's ``executemany`` (as the sync engine does): a bulk action of 10 000 resources is a
    handful of statements and no per-row ORM work."""
    if not items:
        return
    now = db_time(batch.now)
    resource_rows: list[tuple[object, ...]] = []
    audit_rows: list[tuple[object, ...]] = []
    dumps = _encode_sorted
    for item in items:
        resource = item.resource
        state = resource.state()
        item.before.update(state)
        version = resource.version + 1
        new = {**state, **item.changes, "version": version}
        item.after.update(new)
        resource_rows.append((new["status"], new["record_id"], new["client_id"], new["matched_on"], new["reason"],
                              new["reason_kind"], version, batch.operator, now, resource.id))
        audit_rows.append((batch.id, now, batch.operator, batch.action, resource.integration_id, resource.id,
                           dumps(item.before), dumps(item.after)))
        batch.resource_ids.append(resource.id)
    batch.keep_created_keys(_unlinked_creators([(item.resource, item.after) for item in items]))
    raw = raw_connection(batch.conn)
    raw.executemany("UPDATE resource SET status = ?, record_id = ?, client_id = ?, matched_on = ?, reason = ?,"
                    " reason_kind = ?, version = ?, updated_by = ?, updated_at = ? WHERE id = ?", resource_rows)
    raw.executemany("INSERT INTO audit_event (batch, time, operator, action, integration_id, resource_id,"
                    " before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", audit_rows)
    lines: list[tuple[int, str, int | None]]
    if len(items) <= LOG_EACH_UP_TO:
        lines = [(item.resource.integration_id, item.message, item.resource.id) for item in items]
    else:
        integrations = sorted({item.resource.integration_id for item in items})
        lines = [(integration_id, summary, None) for integration_id in integrations]
    raw.executemany(
        "INSERT INTO sync_log_entry (integration_id, time, level, message, resource_id) VALUES (?, ?, 'info', ?, ?)",
        [(integration_id, now, f"{batch.operator}: {message}", resource_id)
         for integration_id, message, resource_id in lines])


def _last_undoable(conn: Connection, operator: str) -> str | None:
    """The batch ``undo`` would revert: the operator's newest action (a redo counts) not undone."""
    return conn.execute(
        select(A.batch).where(A.operator == operator, A.action != "undo", A.undone_by.is_(None))
        .order_by(A.id.desc()).limit(1)
    ).scalar()


def _last_redoable(conn: Connection, operator: str) -> str | None:
    """The undo batch ``redo`` would revert: the operator's newest undo not yet redone, as long
    as the operator has done nothing but undo and redo since (a new action ends the redo chain)."""
    row = conn.execute(
        select(A.batch, A.id).where(A.operator == operator, A.action == "undo", A.undone_by.is_(None))
        .order_by(A.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    acted_since = conn.execute(
        select(A.id).where(A.operator == operator, A.id > row[1], A.action.not_in(("undo", "redo"))).limit(1)
    ).first()
    return None if acted_since is not None else row[0]


def _revert(conn: Connection, batch_id: str, action: str, operator: str) -> ActionResult:
    """Put every resource (and record) of ``batch_id`` back as it was before, as one new batch
    named ``action``; refused whole if any of them changed since."""
    events: list[tuple[int, str, int, str, str]] = [
        (row.id, row.action, row.resource_id, row.before, row.after) for row in conn.execute(
            select(A.id, A.action, A.resource_id, A.before, A.after).where(A.batch == batch_id).order_by(A.id.desc()))]
    resources = load_many(conn, [event[2] for event in events])
    batch = _Batch(conn, action, operator)
    items: list[Change] = []
    wanted: list[_Disable] = []
    verb = "undid" if action == "undo" else "redid"
    if action == "redo":
        # The events are the undo's; what comes back is the action that undo reverted.
        redone = _undone_action(conn, batch_id)
        events = [(e[0], redone or e[1], *e[2:]) for e in events]
    for _event_id, event_action, resource_id, before_json, after_json in events:
        was, now = json.loads(before_json), json.loads(after_json)
        resource = resources.get(resource_id)
        if resource is None:
            raise NotFoundError(f"cannot {action} {event_action}: resource {resource_id} no longer exists")
        # Compare what the action set, not the version: an undone later action bumped the
        # version but put back exactly the state this one left, which is safe to revert.
        state = resource.state()
        if state["status"] != now["status"] or state["record_id"] != now["record_id"] \
                or state["client_id"] != now["client_id"]:
            raise StaleResourceError(f"cannot {action} {event_action} of {resource.label}: "
                                     + _changed_message(resource))
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for record_id, state in was.get("records", {}).items():
            wanted.append((int(record_id), state["disabled"], before, after))
        changes = {key: was.get(key) for key in _RESTORED}
        message = f"{verb} {event_action} of {resource.label} (back to {SyncStatus(was['status']).label})"
        items.append(Change(resource, changes, before, after, message))
    _set_disabled_many(batch, wanted)
    what = events[0][1]
    summary = items[0].message if len(items) == 1 else f"{verb} {what} of {len(items):,} resources"
    _apply_many(batch, items, summary)
    conn.execute(update(audit_table).where(A.batch == batch_id).values(undone_by=batch.id))
    return batch.result(summary)


def undo(store: Store, *, operator: str | None = None) -> ActionResult:
    """Revert the operator's last action not yet undone, exactly, if nothing changed since.

    A bulk action is one batch, so one undo reverts all of its resources together.
    """
    return _step(store, "undo", operator or current_operator())


def redo(store: Store, *, operator: str | None = None) -> ActionResult:
    """Apply again what the operator's last undo reverted, if nothing changed since and the
    operator has not acted since (a new action, as in any editor, ends what can be redone)."""
    return _step(store, "redo", operator or current_operator())


def _step(store: Store, kind: str, operator: str) -> ActionResult:
    with store.write() as conn:
        last = _last_undoable(conn, operator) if kind == "undo" else _last_redoable(conn, operator)
        if last is None:
            raise ActionError(f"nothing to {kind} for {operator}")
        return _revert(conn, last, kind, operator)


@dataclass(frozen=True, slots=True)
class Pending:
    """What an undo or redo would change, for the confirmation an operator reads first."""

    #: "undo" or "redo"
    kind: str
    #: the action that will be reverted (for a redo: the action an undo reverted)
    action: str
    time: Any
    resources: int
    #: up to ``SAMPLE`` lines "device 'X': Excluded → Matched"
    lines: tuple[str, ...]
    #: the names of the integrations whose resources it changes
    integrations: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        what = "one resource" if self.resources == 1 else f"{self.resources:,} resources"
        return f"{self.kind.capitalize()} {self.action} of {what}?"


#: Lines a confirmation lists before "and N more".
SAMPLE = 6


def pending(store: Store, kind: str, *, operator: str | None = None) -> Pending | None:
    """What ``undo`` (kind "undo") or ``redo`` (kind "redo") would do now, or None if nothing."""
    operator = operator or current_operator()
    with store.read() as conn:
        batch_id = _last_undoable(conn, operator) if kind == "undo" else _last_redoable(conn, operator)
        if batch_id is None:
            return None
        count, first_time = conn.execute(
            select(func.count(), func.min(A.time)).where(A.batch == batch_id)).one()
        sample = conn.execute(
            select(A.action, R.type, R.name, A.before, A.after)
            .select_from(audit_table.outerjoin(resource_table, R.id == A.resource_id))
            .where(A.batch == batch_id).order_by(A.id).limit(SAMPLE)
        ).all()
        action = sample[0][0] if sample else kind
        integrations = tuple(conn.execute(
            select(integration_table.c.name).where(integration_table.c.id.in_(
                select(A.integration_id).where(A.batch == batch_id).distinct()))
            .order_by(integration_table.c.name)).scalars())
        if kind == "redo":
            # The undo batch's events say "undo"; what comes back is what that undo reverted.
            action = _undone_action(conn, batch_id) or action
    # The records whose disabled flag comes back, by name: the question names what changes.
    events = [(type_, name, json.loads(after_json), json.loads(before_json))
              for _action, type_, name, before_json, after_json in sample]
    names = history.record_names(store, [back for *_, back in events])
    lines = []
    for type_, name, now, back in events:
        change = f"{SyncStatus(now['status']).label} → {SyncStatus(back['status']).label}"
        change = ", ".join([change, *history.describe_records(back.get("records", {}), names)])
        lines.append(f"{type_} {name!r}: {change}")
    return Pending(kind, action, first_time, count, tuple(lines), integrations)


def _undone_action(conn: Connection, undo_batch: str) -> str | None:
    """The action an undo batch reverted (what a redo of it brings back)."""
    return conn.execute(select(A.action).where(A.undone_by == undo_batch).limit(1)).scalar()
