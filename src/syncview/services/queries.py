"""Read side: the queries the screen and the CLI make.

Every function takes an open :class:`~syncview.store.Store` and returns plain
frozen dataclasses, so callers never hold a connection or an ORM object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, TextualSelect, and_, func, literal_column, or_, select, text, true

from syncview.domain import (
    MatchedOn,
    ReasonKind,
    ResourceType,
    SyncStatus,
    integration_key,
    name_search,
    plain_search,
    normalise_name,
    xref,
)
from syncview.identity import NO_KEYS, Keys
from syncview.errors import NotFoundError
from syncview.services.columns import SORT_KEYS, row_query, to_rows
from syncview.services.columns import ResourceRow as ResourceRow  # the rows these queries return
from syncview.store import Cancellation, Store, raw_connection
from syncview.store.dialect import Unindexed, contains, indexed_by, unindexed_sql
from syncview.store import derived
from syncview.store.derived import has_name_index, resource_count
from syncview.store.models import (
    audit_table,
    client_table,
    integration_table,
    record_table,
    resource_table,
    sync_log_table,
    sync_run_table,
)
from syncview.timeutil import ago

R = resource_table.c
REC = record_table.c
CL = client_table.c
RC = resource_count.c

#: ``ResourceFilter.client_id`` value selecting resources that have no local client yet
#: (the same value the kept counts use for them).
NO_CLIENT = derived.NO_CLIENT


@dataclass(frozen=True, slots=True)
class IntegrationSummary:
    """An integration and how its sync runs went: the last run first, then the last good one."""

    id: int
    name: str
    kind: str
    #: end of the last *successful* run (None before the first one)
    last_synced_at: datetime | None
    #: how the last run ended: success, partial, failed or running (None before any run)
    last_outcome: str | None
    #: when the last run ended (when it started, while it runs)
    last_run_at: datetime | None = None
    #: what the last run said (why it failed, or its notes)
    last_message: str | None = None

    @property
    def last_run_failed(self) -> bool:
        """The last run did not complete: it failed or stopped part way."""
        return self.last_outcome in ("failed", "partial")

    def last_run_words(self, now: datetime | None = None) -> str:
        """The last run's outcome and age, outcome first: "Failed just now", "Synced 4 min ago"."""
        when = ago(self.last_run_at, now=now)
        return {
            None: "Never synced",
            "success": f"Synced {when}",
            "partial": f"Stopped part way {when}",
            "failed": f"Failed {when}",
            "running": f"Running, started {when}",
        }.get(self.last_outcome, f"{str(self.last_outcome).capitalize()} {when}")

    def last_success_words(self, now: datetime | None = None) -> str:
        """When the last successful run ended: "Last success 4 min ago", or that there is none."""
        if self.last_synced_at is None:
            return "No successful sync yet"
        return f"Last success {ago(self.last_synced_at, now=now)}"


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts over a whole integration, whatever client is selected: the one definition of the
    counts the tiles, ``status``, the sync toast and the run summary show.

    ``total``, ``by_type`` and ``by_status`` count the live resources (those the product still
    has); ``removed`` counts the resources removed remotely, apart from them.
    """

    total: int
    by_type: dict[ResourceType, int]
    by_status: dict[SyncStatus, int]
    #: resources marked removed remotely (whatever their status), not in the counts above
    removed: int = 0


@dataclass(frozen=True, slots=True)
class ClientCount:
    #: ``NO_CLIENT`` for resources whose remote company has no local client
    id: int
    name: str
    #: live resources (what the tiles count); the removed-remotely ones apart
    resources: int
    removed: int = 0


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    """What the Sync Status table shows: an integration and optional narrowing."""

    #: None for every integration (exports and scripts; the screen always picks one)
    integration_id: int | None
    #: None for all clients, NO_CLIENT for resources without a local client
    client_id: int | None = None
    #: part of the name as typed, punctuation included, any case (domain.name_search)
    text: str = ""
    type: ResourceType | None = None
    status: SyncStatus | None = None
    #: how the resources matched (a MatchedOn) or why they did not (a ReasonKind)
    why: MatchedOn | ReasonKind | None = None


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
    #: the resource's identity keys as its last sync normalised them, its own cross-reference included
    keys: Keys = NO_KEYS
    #: its record's keys (those of every resource linked to it, and its own), if it has a record
    record_keys: Keys = NO_KEYS


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


def list_integrations(store: Store) -> list[IntegrationSummary]:
    """Every integration in the store with its last run (outcome, time, message) and the end of
    its last successful run."""
    runs = sync_run_table.c
    last_success = (
        select(runs.integration_id, func.max(runs.ended_at).label("ended"))
        .where(runs.outcome == "success")
        .group_by(runs.integration_id)
        .subquery()
    )
    integ = integration_table.c
    last_run = (
        select(runs.id)
        .where(runs.integration_id == integ.id)
        .order_by(runs.started_at.desc(), runs.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    last = sync_run_table.alias("last_run")
    query = (
        select(integ.id, integ.name, integ.kind, last_success.c.ended, last.c.outcome,
               func.coalesce(last.c.ended_at, last.c.started_at), last.c.message)
        .outerjoin(last_success, last_success.c.integration_id == integ.id)
        .outerjoin(last, last.c.id == last_run)
        .order_by(integ.name)
    )
    with store.read() as conn:
        return [IntegrationSummary(*row) for row in conn.execute(query)]


def get_integration(store: Store, name: str) -> IntegrationSummary:
    """The integration called ``name`` (case-insensitive); NotFoundError lists the known ones."""
    integrations = list_integrations(store)
    key = integration_key(name)
    for integration in integrations:
        if integration_key(integration.name) == key:
            return integration
    known = ", ".join(repr(i.name) for i in integrations) or "none yet: run `syncview demo` or `syncview sync`"
    raise NotFoundError(f"no integration named {name!r}; known integrations: {known}")


def integration_totals(store: Store, integration_id: int) -> Totals:
    """Live resources by type and by status, and the removed-remotely ones, of a whole integration."""
    with store.read() as conn:
        return totals_on(conn, integration_id)


def totals_on(conn: Connection, integration_id: int) -> Totals:
    """:func:`integration_totals` on an open connection (the sync engine's, inside its transaction)."""
    by_type = dict.fromkeys(ResourceType, 0)
    by_status = dict.fromkeys(SyncStatus, 0)
    kept = (
        select(RC.type, RC.status, func.sum(RC.n))
        .where(RC.integration_id == integration_id)
        .group_by(RC.type, RC.status)
    )
    for type_, status, count in conn.execute(kept):
        by_type[ResourceType(type_)] += count
        by_status[SyncStatus(status)] += count
    # The kept counts hold every resource; the removed ones (a partial index) come off them.
    removed = 0
    for type_, status, count in _removed_by(conn, integration_id, "type, status"):
        by_type[ResourceType(type_)] -= count
        by_status[SyncStatus(status)] -= count
        removed += count
    return Totals(sum(by_status.values()), by_type, by_status, removed)


def _removed_by(conn: Connection, integration_id: int, columns: str) -> list[tuple[Any, ...]]:
    """The integration's resources removed remotely, counted by ``columns`` (of resource), read
    from their partial index ix_resource_removed. The condition is written out, not bound (SQLite
    uses a partial index only for a literal that implies it), and SQLite is told the index:
    without statistics it walked the whole integration through an index giving the GROUP BY's
    order, testing each row (1.4 s of a tile refresh at 1M)."""
    sql = (f"SELECT {columns}, count(*) FROM resource {indexed_by(conn, 'ix_resource_removed')}"
           f" WHERE integration_id = :integration AND deleted_remotely = 1 GROUP BY {columns}")
    return [tuple(row) for row in conn.execute(text(sql), {"integration": integration_id})]


def integration_clients(store: Store, integration_id: int) -> list[ClientCount]:
    """The local clients that resources of this integration belong to, by name."""
    query = (
        select(RC.client_id, CL.name, func.sum(RC.n))
        .select_from(resource_count.outerjoin(client_table, CL.id == RC.client_id))
        .where(RC.integration_id == integration_id)
        .group_by(RC.client_id, CL.name)
        .having(func.sum(RC.n) > 0)
    )
    with store.read() as conn:
        removed: dict[int, int] = {NO_CLIENT if client is None else client: count
                                   for client, count in _removed_by(conn, integration_id, "client_id")}
        rows = [
            ClientCount(client_id, name or "(no local client)", count - removed.get(client_id, 0),
                        removed.get(client_id, 0))
            for client_id, name, count in conn.execute(query)
        ]
    return sorted(rows, key=lambda c: (c.id == NO_CLIENT, c.name.casefold()))


#: A text filter with more name matches than this is applied by scanning names in index
#: order: the matches are dense, so a page fills at once, and a sequential count beats
#: probing each match. Fewer matches are looked up in the trigram index and sorted.
DENSE_MATCHES = 20_000


@dataclass(frozen=True, slots=True)
class _TextPlan:
    """How a filter's text is applied: ``search`` is what the names must hold (as typed,
    :func:`~syncview.domain.name_search`); ``match`` is the trigram query when the index is
    used, ``none`` is set when the index says nothing matches.

    The index holds the normalised names, so it finds a superset (every name holding the
    typed text holds its normalised form): the rows it gives are then checked as typed.
    """

    search: str
    match: ColumnElement[bool] | None = None
    none: bool = False

    @property
    def norm(self) -> str:
        """The search normalised: held by the ``name_norm`` of every name that holds the search."""
        return normalise_name(self.search)

    @property
    def plain(self) -> bool:
        """The search is letters and digits only: then a name holds it exactly when its
        ``name_norm`` does, and the covering name index answers without reading a row."""
        return plain_search(self.search)


def _scan_plan(flt: ResourceFilter) -> _TextPlan:
    """The filter's text applied by scanning names (no index look-up)."""
    return _TextPlan(name_search(flt.text))


def _text_plan(conn: Connection, flt: ResourceFilter) -> _TextPlan:
    search = name_search(flt.text)
    norm = normalise_name(search)
    if len(norm) < 3 or not has_name_index(conn):
        return _TextPlan(search)
    # Capped: counting every match of a common fragment would cost what the scan costs.
    matches = derived.name_matches(conn, norm, DENSE_MATCHES)
    if matches > DENSE_MATCHES:
        return _TextPlan(search)
    return _TextPlan(search, derived.name_match(conn, R.id, R.name_norm, norm), none=matches == 0)


def _where(flt: ResourceFilter, plan: _TextPlan) -> list[ColumnElement[bool]]:
    """WHERE clauses for ``flt``. With an indexed ``plan`` the rows come from the name index
    and the other columns are wrapped in unary ``+`` so SQLite cannot prefer to drive the
    query from an index on them (scanning a whole integration to probe each row's name)."""
    indexed = plan.match is not None

    def col(column: Column[Any]) -> ColumnElement[Any]:
        return Unindexed(column) if indexed else column

    clauses: list[ColumnElement[bool]] = [] if flt.integration_id is None else [col(R.integration_id) == flt.integration_id]
    if flt.client_id == NO_CLIENT:
        clauses.append(col(R.client_id).is_(None))
    elif flt.client_id is not None:
        clauses.append(col(R.client_id) == flt.client_id)
    if flt.status is not None:
        clauses.append(col(R.status) == flt.status.value)
    if flt.type is not None:
        clauses.append(col(R.type) == flt.type.value)
    if isinstance(flt.why, MatchedOn):
        clauses.append(col(R.matched_on) == flt.why.value)
    elif flt.why is not None:
        clauses.append(col(R.reason_kind) == flt.why.value)
    if plan.match is not None:
        clauses.append(plan.match)
    elif plan.norm:
        clauses.append(contains(R.name_norm, plan.norm))  # from the covering index: no row read
    if plan.search and not plan.plain:
        # Punctuation or spaces: the rows that passed the normalised test are read and checked as
        # typed, case folded (domain.name_search; each engine has syncview_fold: store/db.py, store/pg.py).
        clauses.append(contains(func.syncview_fold(R.name), plan.search))
    return clauses


def filter_clause(flt: ResourceFilter) -> ColumnElement[bool]:
    """One SQL condition selecting what ``flt`` selects (names matched by a scan, no index
    plan), for queries of other modules that build on the screen's filter (marks, bulk actions)."""
    return and_(true(), *_where(flt, _scan_plan(flt)))


def count_resources(store: Store, flt: ResourceFilter, *, cancellation: Cancellation | None = None) -> int:
    """How many resources the filter selects: from the kept counts when there is no text,
    through the name index when there is."""
    with store.read(cancellation) as conn:
        if not name_search(flt.text) and flt.why is None:
            return _kept_count(conn, flt)
        plan = _text_plan(conn, flt)
        if plan.none:
            return 0
        query = select(func.count()).select_from(resource_table).where(*_where(flt, plan))
        count: int = conn.execute(query).scalar_one()
        return count


def count_removed(store: Store, flt: ResourceFilter, *, cancellation: Cancellation | None = None) -> int:
    """How many of the resources ``flt`` selects are removed remotely.

    One definition of each count, everywhere: the table lists every resource the filter
    selects (:func:`count_resources`), the removed-remotely ones marked; the tiles, ``status``
    and the table's count line call the others "resources" and say the removed ones apart
    (:class:`Totals`' ``total`` and ``removed``). Read through the partial index of removed rows.
    """
    with store.read(cancellation) as conn:
        plan = _text_plan(conn, flt) if name_search(flt.text) else _TextPlan("")
        if plan.none:
            return 0
        # Written out, not bound: SQLite uses a partial index only for a literal that implies it.
        query = (select(func.count()).select_from(resource_table)
                 .where(*_where(flt, plan), text("resource.deleted_remotely = 1")))
        count: int = conn.execute(query).scalar_one()
        return count


def _kept_clauses(flt: ResourceFilter) -> list[ColumnElement[bool]]:
    """``flt`` (without text or reason) on the kept counts."""
    clauses: list[ColumnElement[bool]] = []
    if flt.integration_id is not None:
        clauses.append(RC.integration_id == flt.integration_id)
    if flt.client_id is not None:
        clauses.append(RC.client_id == flt.client_id)
    if flt.status is not None:
        clauses.append(RC.status == flt.status.value)
    if flt.type is not None:
        clauses.append(RC.type == flt.type.value)
    return clauses


def _kept_count(conn: Connection, flt: ResourceFilter) -> int:
    count: int = conn.execute(select(func.coalesce(func.sum(RC.n), 0)).where(*_kept_clauses(flt))).scalar_one()
    return count


def single_valued(store: Store, flt: ResourceFilter, *, cancellation: Cancellation | None = None) -> frozenset[str]:
    """Which of ``type`` and ``status`` say the same on every resource ``flt`` selects (none of
    an empty result): a narrow table names them once in its header instead of giving each a
    column, and that holds wherever the operator scrolls. From the kept counts when there is
    no text or reason; else from the result, read through the same plan as its count."""
    with store.read(cancellation) as conn:
        if not name_search(flt.text) and flt.why is None:
            pairs = conn.execute(select(RC.type, RC.status).where(*_kept_clauses(flt))
                                 .group_by(RC.type, RC.status).having(func.sum(RC.n) > 0)).all()
        else:
            plan = _text_plan(conn, flt)
            if plan.none:
                return frozenset()
            pairs = conn.execute(select(R.type, R.status).where(*_where(flt, plan)).group_by(R.type, R.status)).all()
    spread = {"type": {type_ for type_, _ in pairs}, "status": {status for _, status in pairs}}
    return frozenset(key for key, values in spread.items() if len(values) == 1)


#: A page of a slice without text is read by sorting the slice (found through its filter
#: columns' index) instead of walking the name index and skipping rows of other slices, when
#: walking would step over more than this many times the slice's rows. Sorting a row costs
#: about twice a step of the walk (a row lookup either way, plus the sort).
SORT_OVER_WALK = 2


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
    """One page of the filtered resources, in a stable order (sort key, then id).

    Without a text filter the kept counts say at once how many rows the slice has, and
    the page is planned with them (:func:`_page_plan`): an empty slice or a page past its
    end reads nothing, a page in the second half of the slice is read from the other end,
    and a small slice is sorted rather than picked out of the whole integration's name
    order. A million-resource integration then pages, filters and jumps to its end in
    milliseconds instead of hundreds of them.

    The page's ids are picked first and only its rows are then read and joined: SQLite
    builds every row an OFFSET skips, so a deep page used to join the records and clients
    of all the rows before it; ids alone mostly come from an index without touching a row.
    """
    if sort not in SORT_KEYS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)}")
    if limit <= 0 or offset < 0:
        return []
    with store.read(cancellation) as conn:
        plan = _text_plan(conn, flt)
        if plan.none:
            return []
        where = _where(flt, plan)
        page = _PagePlan(offset, limit, descending)
        if not plan.search and flt.why is None:  # the kept counts do not count by reason
            page = _page_plan(conn, flt, offset, limit, sort, descending)
        if page.limit <= 0:
            return []
        key = SORT_KEYS[sort]
        order = [key.desc(), R.id.desc()] if page.descending else [key.asc(), R.id.asc()]
        if page.sorted_slice:
            query = row_query().where(R.id.in_(_sorted_slice_ids(conn, flt, page))).order_by(*order)
        elif key.table is resource_table:
            ids = select(R.id).where(*where).order_by(*order).offset(page.offset).limit(page.limit)
            query = row_query().where(R.id.in_(ids.scalar_subquery())).order_by(*order)
        else:  # sorted by a record's or a client's name: the join is part of the order
            query = row_query().where(*where).order_by(*order).offset(page.offset).limit(page.limit)
        rows = list(to_rows(conn.execute(query)))
    return rows[::-1] if page.descending != descending else rows


@dataclass(frozen=True, slots=True)
class _PagePlan:
    """How a page is read: ``offset``/``limit`` in the direction ``descending`` (the other
    direction than asked when the page is nearer the end), and whether the slice is sorted."""

    offset: int
    limit: int
    descending: bool
    sorted_slice: bool = False


def _page_plan(conn: Connection, flt: ResourceFilter, offset: int, limit: int, sort: str, descending: bool) -> _PagePlan:
    """Plan a page of a filter without text, from the kept counts (two reads of a few hundred rows)."""
    count = _kept_count(conn, flt)
    page = _reversed_if_nearer_the_end(count, offset, limit, descending)
    if page.limit <= 0:
        return page
    offset, limit, descending = page.offset, page.limit, page.descending
    sorted_slice = False
    if sort == "name" and flt.integration_id is not None and (
            flt.client_id is not None or flt.type is not None or flt.status is not None):
        whole = _kept_count(conn, ResourceFilter(flt.integration_id))
        # Walking the name index finds the slice's rows spread evenly among the integration's.
        walk = (offset + limit) * whole / count
        sorted_slice = SORT_OVER_WALK * count < walk
    return _PagePlan(offset, limit, descending, sorted_slice)


def _reversed_if_nearer_the_end(count: int, offset: int, limit: int, descending: bool) -> _PagePlan:
    """Rows [offset, offset + limit) of ``count``, read from the other end when that is nearer:
    there they are rows [count - offset - limit, count - offset). Nothing past the end."""
    if offset >= count:
        return _PagePlan(0, 0, descending)
    limit = min(limit, count - offset)
    from_end = count - offset - limit
    if from_end < offset:
        return _PagePlan(from_end, limit, not descending)
    return _PagePlan(offset, limit, descending)


def _sorted_slice_ids(conn: Connection, flt: ResourceFilter, page: _PagePlan) -> TextualSelect:
    """The ids of a page of a small slice (no text; sorted by name), sorted on their own so
    that only the page's rows are then read and joined.

    The index is named: SQLite (without ANALYZE statistics) would otherwise prefer walking
    the covering ix_resource_screen over the whole integration. With a client that index is
    the right one; without, the slice is found through ix_resource_integration_status_type,
    a type with any status being asked as each status in turn.
    """
    conditions = ["integration_id = :integration"]
    params: dict[str, object] = {"integration": flt.integration_id}
    if flt.client_id == NO_CLIENT:
        conditions.append("client_id IS NULL")
    elif flt.client_id is not None:
        conditions.append("client_id = :client")
        params["client"] = flt.client_id
    if flt.status is not None:
        conditions.append("status = :status")
        params["status"] = flt.status.value
    elif flt.client_id is None:
        conditions.append("status IN (" + ", ".join(f"'{s.value}'" for s in SyncStatus) + ")")
    if flt.type is not None:
        conditions.append("type = :type")
        params["type"] = flt.type.value
    index = "ix_resource_screen" if flt.client_id is not None else "ix_resource_integration_status_type"
    direction = "DESC" if page.descending else "ASC"
    sql = (f"SELECT id FROM resource {indexed_by(conn, index)} WHERE {' AND '.join(conditions)}"
           f" ORDER BY {unindexed_sql(conn, 'name_norm')} {direction}, id {direction} LIMIT :limit OFFSET :offset")
    return text(sql).bindparams(**params, limit=page.limit, offset=page.offset).columns(R.id)


def iter_resources(store: Store, flt: ResourceFilter, *, chunk: int = 5000) -> Iterator[ResourceRow]:
    """Every resource the filter selects, in id order, fetched a chunk at a time (for exports)."""
    last = 0
    while True:
        query = row_query().where(*_where(flt, _scan_plan(flt)), R.id > last)
        query = query.order_by(R.id).limit(chunk)
        with store.read() as conn:
            rows = list(to_rows(conn.execute(query)))
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].id


def get_resource(store: Store, resource_id: int) -> ResourceRow:
    """One resource as the table shows it; NotFoundError if it is gone."""
    with store.read() as conn:
        row = next(to_rows(conn.execute(row_query().where(R.id == resource_id))), None)
    if row is None:
        raise NotFoundError(f"no resource with id {resource_id}")
    return row


def audit_history(store: Store, resource_id: int) -> list[AuditRow]:
    """Every operator action on a resource, oldest first."""
    a = audit_table.c
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
        first_seen, payload, kind = conn.execute(
            select(R.first_seen, R.payload, integration_table.c.kind)
            .join(integration_table, integration_table.c.id == R.integration_id).where(R.id == resource_id)
        ).one()
    own = xref(kind, resource.type, resource.external_id)
    keys = Keys.from_pairs([*resource_keys(store, [resource_id]).get(resource_id, NO_KEYS).pairs(), ("xref", own)])
    linked = record_keys(store, [resource.record_id]).get(resource.record_id, NO_KEYS) \
        if resource.record_id is not None else NO_KEYS
    return ResourceDetail(resource, first_seen, json.loads(payload), audit_history(store, resource_id), keys, linked)


#: Every key of some records (ids as JSON, three times): (record id, kind, value). A record's
#: keys are those of the resources linked to it, their own cross-references (kind:type:external
#: id, not stored) included, and those it holds itself (``record_key``). A pair may come twice
#: (UNION ALL: no sort to drop duplicates); readers gather them into sets.
KEYS_OF_RECORDS = (
    "SELECT r.record_id, k.kind, k.value FROM resource r JOIN resource_key k ON k.resource_id = r.id"
    " WHERE r.record_id IN (SELECT value FROM json_each(?))"
    " UNION ALL SELECT r.record_id, 'xref', i.kind || ':' || r.type || ':' || r.external_id"
    " FROM resource r JOIN integration i ON i.id = r.integration_id WHERE r.record_id IN (SELECT value FROM json_each(?))"
    " UNION ALL SELECT record_id, kind, value FROM record_key WHERE record_id IN (SELECT value FROM json_each(?))"
)


def record_keys(store: Store, record_ids: Iterable[int]) -> dict[int, Keys]:
    """The identity keys of some records, by record id (see :data:`KEYS_OF_RECORDS`)."""
    ids = json.dumps(sorted(set(record_ids)))
    found: dict[int, list[tuple[str, str]]] = {}
    with store.read() as conn:
        for record_id, kind, value in raw_connection(conn).execute(KEYS_OF_RECORDS, (ids, ids, ids)):
            found.setdefault(record_id, []).append((kind, value))
    return {rid: Keys.from_pairs(pairs) for rid, pairs in found.items()}


def resource_keys(store: Store, resource_ids: Iterable[int]) -> dict[int, Keys]:
    """The identity keys the last sync stored for some resources, by resource id."""
    found: dict[int, list[tuple[str, str]]] = {}
    with store.read() as conn:
        for resource_id, kind, value in raw_connection(conn).execute(
            "SELECT resource_id, kind, value FROM resource_key WHERE resource_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(resource_ids))),)
        ):
            found.setdefault(resource_id, []).append((kind, value))
    return {rid: Keys.from_pairs(pairs) for rid, pairs in found.items()}


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
    log = sync_log_table.c
    query = (
        select(log.id, log.integration_id, log.sync_run_id, log.time, log.level, log.message,
               log.resource_id, R.name)
        .select_from(sync_log_table)
        .outerjoin(resource_table, R.id == log.resource_id)
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
        .select_from(record_table)
        .outerjoin(client_table, CL.id == REC.client_id)
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
        .select_from(record_table)
        .outerjoin(client_table, CL.id == REC.client_id)
        .where(REC.type == type_.value)
        .order_by(REC.name_norm, REC.id)
        .limit(limit)
    )
    if client_id is not None:
        query = query.where(REC.client_id == client_id)
    norm = normalise_name(text)
    if norm:
        query = query.where(contains(REC.name_norm, norm))
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
