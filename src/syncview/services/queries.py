"""Read side: the queries the screen and the CLI make.

Every function takes an open :class:`~syncview.store.Store` and returns plain
frozen dataclasses, so callers never hold a connection or an ORM object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from syncview.domain import ResourceType, SyncStatus, normalise_name
from syncview.errors import NotFoundError
from syncview.store import Cancellation, Store
from syncview.store.models import AuditEvent, Client, Integration, Record, Resource, SyncLogEntry, SyncRun

R = Resource.__table__.c
REC = Record.__table__.c
CL = Client.__table__.c

#: ``ResourceFilter.client_id`` value selecting resources that have no local client yet.
NO_CLIENT = 0


@dataclass(frozen=True, slots=True)
class IntegrationSummary:
    id: int
    name: str
    kind: str
    last_synced_at: datetime | None
    last_outcome: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts over a whole integration, whatever client is selected."""

    total: int
    by_type: dict[ResourceType, int]
    by_status: dict[SyncStatus, int]


@dataclass(frozen=True, slots=True)
class ClientCount:
    #: ``NO_CLIENT`` for resources whose remote company has no local client
    id: int
    name: str
    resources: int


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    """What the Sync Status table shows: an integration and optional narrowing."""

    #: None for every integration (exports and scripts; the screen always picks one)
    integration_id: int | None
    #: None for all clients, NO_CLIENT for resources without a local client
    client_id: int | None = None
    #: part of the name, case- and punctuation-insensitive
    text: str = ""
    type: ResourceType | None = None
    status: SyncStatus | None = None


@dataclass(frozen=True, slots=True)
class ResourceRow:
    id: int
    integration_id: int
    type: ResourceType
    external_id: str
    name: str
    status: SyncStatus
    record_id: int | None
    record_name: str | None
    record_disabled: bool | None
    remote_company: str | None
    client_id: int | None
    client_name: str | None
    last_seen: datetime
    deleted_remotely: bool
    version: int
    updated_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    batch: str
    time: datetime
    operator: str
    action: str
    resource_id: int | None
    before: dict[str, Any]
    after: dict[str, Any]
    undone_by: str | None


@dataclass(frozen=True, slots=True)
class ResourceDetail:
    resource: ResourceRow
    first_seen: datetime
    payload: dict[str, Any]
    history: list[AuditRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    integration_id: int
    sync_run_id: int | None
    time: datetime
    level: str
    message: str
    resource_id: int | None
    resource_name: str | None


#: Columns the table can be sorted by, as the screen and CLI name them.
SORT_KEYS = {
    "name": R.name_norm,
    "type": R.type,
    "status": R.status,
    "record": REC.name,
    "remote_company": R.remote_company,
    "client": CL.name,
    "last_seen": R.last_seen,
}


def list_integrations(store: Store) -> list[IntegrationSummary]:
    """Every integration in the store with the end of its last successful or partial run."""
    runs = SyncRun.__table__.c
    last = (
        select(runs.integration_id, func.max(runs.ended_at).label("ended"))
        .where(runs.outcome.in_(("success", "partial")))
        .group_by(runs.integration_id)
        .subquery()
    )
    integ = Integration.__table__.c
    outcome = (
        select(runs.outcome)
        .where(runs.integration_id == integ.id)
        .order_by(runs.started_at.desc(), runs.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(integ.id, integ.name, integ.kind, last.c.ended, outcome)
        .outerjoin(last, last.c.integration_id == integ.id)
        .order_by(integ.name)
    )
    with store.read() as conn:
        return [IntegrationSummary(*row) for row in conn.execute(query)]


def get_integration(store: Store, name: str) -> IntegrationSummary:
    """The integration called ``name`` (case-insensitive); NotFoundError lists the known ones."""
    integrations = list_integrations(store)
    for integration in integrations:
        if integration.name.casefold() == name.casefold():
            return integration
    known = ", ".join(repr(i.name) for i in integrations) or "none yet: run `syncview demo` or `syncview sync`"
    raise NotFoundError(f"no integration named {name!r}; known integrations: {known}")


def integration_totals(store: Store, integration_id: int) -> Totals:
    """Total resources and counts by type and by status for a whole integration."""
    query = (
        select(R.type, R.status, func.count())
        .where(R.integration_id == integration_id)
        .group_by(R.type, R.status)
    )
    by_type = dict.fromkeys(ResourceType, 0)
    by_status = dict.fromkeys(SyncStatus, 0)
    with store.read() as conn:
        for type_, status, count in conn.execute(query):
            by_type[ResourceType(type_)] += count
            by_status[SyncStatus(status)] += count
    return Totals(sum(by_status.values()), by_type, by_status)


def integration_clients(store: Store, integration_id: int) -> list[ClientCount]:
    """The local clients that resources of this integration belong to, by name."""
    query = (
        select(R.client_id, CL.name, func.count())
        .select_from(Resource.__table__)
        .outerjoin(Client.__table__, CL.id == R.client_id)
        .where(R.integration_id == integration_id)
        .group_by(R.client_id)
    )
    with store.read() as conn:
        rows = [
            ClientCount(client_id or NO_CLIENT, name or "(no local client)", count)
            for client_id, name, count in conn.execute(query)
        ]
    return sorted(rows, key=lambda c: (c.id == NO_CLIENT, c.name.casefold()))


def _where(flt: ResourceFilter) -> list:
    clauses = [] if flt.integration_id is None else [R.integration_id == flt.integration_id]
    if flt.client_id == NO_CLIENT:
        clauses.append(R.client_id.is_(None))
    elif flt.client_id is not None:
        clauses.append(R.client_id == flt.client_id)
    if flt.status is not None:
        clauses.append(R.status == flt.status.value)
    if flt.type is not None:
        clauses.append(R.type == flt.type.value)
    text = normalise_name(flt.text)
    if text:
        clauses.append(func.instr(R.name_norm, text) > 0)
    return clauses


def count_resources(store: Store, flt: ResourceFilter, *, cancellation: Cancellation | None = None) -> int:
    """How many resources the filter selects."""
    with store.read(cancellation) as conn:
        return conn.execute(select(func.count()).select_from(Resource.__table__).where(*_where(flt))).scalar_one()


def _row_query() -> Select:
    return (
        select(
            R.id, R.integration_id, R.type, R.external_id, R.name, R.status, R.record_id,
            REC.name, REC.disabled, R.remote_company, R.client_id, CL.name, R.last_seen,
            R.deleted_remotely, R.version, R.updated_by, R.updated_at,
        )
        .select_from(Resource.__table__)
        .outerjoin(Record.__table__, REC.id == R.record_id)
        .outerjoin(Client.__table__, CL.id == R.client_id)
    )


def _to_row(row) -> ResourceRow:
    values = list(row)
    values[2] = ResourceType(values[2])
    values[5] = SyncStatus(values[5])
    return ResourceRow(*values)


def resource_page(
    store: Store,
    flt: ResourceFilter,
    *,
    offset: int = 0,
    limit: int = 100,
    sort: str = "name",
    descending: bool = False,
    cancellation: Cancellation | None = None,
) -> list[ResourceRow]:
    """One page of the filtered resources, in a stable order (sort key, then id)."""
    if sort not in SORT_KEYS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)}")
    key = SORT_KEYS[sort]
    order = [key.desc(), R.id.desc()] if descending else [key.asc(), R.id.asc()]
    query = _row_query().where(*_where(flt)).order_by(*order).offset(offset).limit(limit)
    with store.read(cancellation) as conn:
        return [_to_row(row) for row in conn.execute(query)]


def iter_resources(store: Store, flt: ResourceFilter, *, chunk: int = 5000) -> Iterator[ResourceRow]:
    """Every resource the filter selects, in id order, fetched a chunk at a time (for exports)."""
    last = 0
    while True:
        query = _row_query().where(*_where(flt), R.id > last).order_by(R.id).limit(chunk)
        with store.read() as conn:
            rows = [_to_row(row) for row in conn.execute(query)]
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].id


def get_resource(store: Store, resource_id: int) -> ResourceRow:
    """One resource as the table shows it; NotFoundError if it is gone."""
    with store.read() as conn:
        row = conn.execute(_row_query().where(R.id == resource_id)).first()
    if row is None:
        raise NotFoundError(f"no resource with id {resource_id}")
    return _to_row(row)


def audit_history(store: Store, resource_id: int) -> list[AuditRow]:
    """Every operator action on a resource, oldest first."""
    a = AuditEvent.__table__.c
    query = (
        select(a.id, a.batch, a.time, a.operator, a.action, a.resource_id, a.before, a.after, a.undone_by)
        .where(a.resource_id == resource_id)
        .order_by(a.id)
    )
    with store.read() as conn:
        return [
            AuditRow(r.id, r.batch, r.time, r.operator, r.action, r.resource_id,
                     json.loads(r.before), json.loads(r.after), r.undone_by)
            for r in conn.execute(query)
        ]


def resource_detail(store: Store, resource_id: int) -> ResourceDetail:
    """A resource with its raw payload and its audit history."""
    resource = get_resource(store, resource_id)
    with store.read() as conn:
        first_seen, payload = conn.execute(select(R.first_seen, R.payload).where(R.id == resource_id)).one()
    return ResourceDetail(resource, first_seen, json.loads(payload), audit_history(store, resource_id))


def log_entries(
    store: Store,
    integration_id: int | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    level: str | None = None,
    limit: int | None = None,
) -> list[LogRow]:
    """Sync log entries in ``[since, until)``, newest first; ``level`` keeps that level and worse."""
    log = SyncLogEntry.__table__.c
    query = (
        select(log.id, log.integration_id, log.sync_run_id, log.time, log.level, log.message,
               log.resource_id, R.name)
        .select_from(SyncLogEntry.__table__)
        .outerjoin(Resource.__table__, R.id == log.resource_id)
        .order_by(log.time.desc(), log.id.desc())
    )
    if integration_id is not None:
        query = query.where(log.integration_id == integration_id)
    if since is not None:
        query = query.where(log.time >= since)
    if until is not None:
        query = query.where(log.time < until)
    if level is not None:
        query = query.where(log.level.in_(LEVELS[LEVELS.index(level):]))
    if limit is not None:
        query = query.limit(limit)
    with store.read() as conn:
        return [LogRow(*row) for row in conn.execute(query)]


#: Log levels, least to most severe.
LEVELS = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class RecordRow:
    id: int
    type: ResourceType
    client_id: int | None
    client_name: str | None
    name: str
    disabled: bool


def get_record(store: Store, record_id: int) -> RecordRow:
    """One local record; NotFoundError if there is none with that id."""
    query = (
        select(REC.id, REC.type, REC.client_id, CL.name, REC.name, REC.disabled)
        .select_from(Record.__table__)
        .outerjoin(Client.__table__, CL.id == REC.client_id)
        .where(REC.id == record_id)
    )
    with store.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no record with id {record_id}")
    return RecordRow(row[0], ResourceType(row[1]), *row[2:])


def find_records(
    store: Store,
    type_: ResourceType,
    *,
    client_id: int | None = None,
    text: str = "",
    limit: int = 5000,
) -> list[RecordRow]:
    """Local records of a type, optionally of one client and containing ``text``."""
    query = (
        select(REC.id, REC.type, REC.client_id, CL.name, REC.name, REC.disabled)
        .select_from(Record.__table__)
        .outerjoin(Client.__table__, CL.id == REC.client_id)
        .where(REC.type == type_.value)
        .order_by(REC.name_norm, REC.id)
        .limit(limit)
    )
    if client_id is not None:
        query = query.where(REC.client_id == client_id)
    norm = normalise_name(text)
    if norm:
        query = query.where(func.instr(REC.name_norm, norm) > 0)
    with store.read() as conn:
        return [RecordRow(row[0], ResourceType(row[1]), *row[2:]) for row in conn.execute(query)]


def linked_resources(store: Store, integration_id: int, record_ids: list[int]) -> dict[int, tuple[int, str]]:
    """For each record id, the resource of this integration linked to it (id, name), if any."""
    if not record_ids:
        return {}
    query = select(R.record_id, R.id, R.name).where(
        and_(R.integration_id == integration_id, or_(*[R.record_id.in_(record_ids[i:i + 500])
                                                       for i in range(0, len(record_ids), 500)]))
    )
    with store.read() as conn:
        return {record_id: (rid, name) for record_id, rid, name in conn.execute(query)}
