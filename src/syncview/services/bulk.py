"""Marks and bulk actions: exclude, include or re-match many resources as one audited, undoable step.

Marks are kept the way the operator made them, not as a list of ids: "every
resource these filters select" (``*``) plus and minus the rows marked or
unmarked one by one (space). Marking all of a million-resource integration
costs nothing, the count comes from the kept counts, and the ids are only
resolved inside the write transaction of the action, by SQL.

A bulk action is one transaction and one batch (so one undo), with an audit
event per resource, written with a handful of ``executemany`` statements.

It acts only on the rows as the operator reviewed them. A row marked one by one
carries the version the screen showed; a filter carries a :class:`Snapshot` of the
store taken when it was marked (its last resource, audit event and sync run). At
action time a row whose version moved, a row an operator changed since the snapshot,
and a row that came after it are left alone and listed; a sync of the integration
since the snapshot may have changed any row, so it refuses the filter's rows whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, false, func, or_, select

from syncview.domain import MatchedOn, ResourceType, SyncStatus, name_contains, name_search, normalise_name
from syncview.errors import ActionError, StaleResourceError
from syncview.services import actions, columns, queries
from syncview.services.actions import ActionResult, Change, in_ids
from syncview.services.queries import NO_CLIENT, ResourceFilter, ResourceRow
from syncview.store import Store
from syncview.store.models import audit_table, record_table, resource_table, sync_run_table

if TYPE_CHECKING:
    from syncview.services.proposals import Proposal

R = resource_table.c
REC = record_table.c
AE = audit_table.c
RUN = sync_run_table.c


@dataclass(frozen=True, slots=True)
class Snapshot:
    """How far the store had got when filter marks were made: what the operator reviewed."""

    #: the last resource then; later ones were never on the operator's screen
    resource_id: int
    #: the last audit event then; a resource with a later one was changed by an operator since
    audit_id: int
    #: the last finished sync run of the integration then; a later run may have changed any row
    run_id: int


def snapshot(store: Store, integration_id: int | None) -> Snapshot:
    """The store's :class:`Snapshot` now: three look-ups of a maximum on an index, instant at
    a million resources, so marking all keeps costing nothing."""
    with store.read() as conn:
        runs = select(func.coalesce(func.max(RUN.id), 0)).where(RUN.outcome != "running")
        if integration_id is not None:
            runs = runs.where(RUN.integration_id == integration_id)
        return Snapshot(conn.execute(select(func.coalesce(func.max(R.id), 0))).scalar_one(),
                        conn.execute(select(func.coalesce(func.max(AE.id), 0))).scalar_one(),
                        conn.execute(runs).scalar_one())


@dataclass(frozen=True, slots=True)
class Marks:
    """Resources an operator marked in one integration."""

    #: every resource any of these filters selects ("mark all")
    filters: tuple[ResourceFilter, ...] = ()
    #: marked one by one, whether or not a filter selects them
    added: frozenset[int] = frozenset()
    #: unmarked one by one although a filter selects them
    removed: frozenset[int] = frozenset()
    #: (id, version) of each row marked one by one, as the screen showed it
    versions: frozenset[tuple[int, int]] = frozenset()
    #: the store when the filters were marked (the first of them)
    snapshot: Snapshot | None = None

    def __bool__(self) -> bool:
        return bool(self.filters or self.added)

    def has(self, row: ResourceRow) -> bool:
        """Whether ``row`` (as the screen last read it) is marked."""
        if row.id in self.added:
            return True
        return row.id not in self.removed and any(matches(flt, row) for flt in self.filters)

    def toggle(self, row: ResourceRow) -> Marks:
        """Marks with ``row`` flipped."""
        selected = any(matches(flt, row) for flt in self.filters)
        versions = frozenset(v for v in self.versions if v[0] != row.id)
        if self.has(row):
            return replace(self, added=self.added - {row.id}, versions=versions,
                           removed=self.removed | {row.id} if selected else self.removed)
        if selected:  # back under its filter, whose snapshot covers it
            return replace(self, removed=self.removed - {row.id}, versions=versions)
        return replace(self, added=self.added | {row.id}, versions=versions | {(row.id, row.version)})

    def with_filter(self, flt: ResourceFilter, taken: Snapshot | None = None) -> Marks:
        """Marks plus every resource ``flt`` selects (rows unmarked one by one are marked again);
        ``taken`` is the store's :func:`snapshot` now (the first filter's is kept: the rows it
        selected were reviewed then)."""
        filters = self.filters if flt in self.filters else (*self.filters, flt)
        return Marks(filters, self.added, frozenset(), self.versions, self.snapshot or taken)

    def describe(self, client_names: Mapping[int, str] | None = None) -> str:
        """What is marked, in words: ``all Not Synced devices named "ws" + 3``."""
        parts = [describe_filter(flt, client_names) for flt in self.filters]
        if self.added:
            parts.append(f"{len(self.added)} marked one by one")
        text = " + ".join(parts)
        if self.removed:
            text += f" − {len(self.removed)}"
        return text


def describe_filter(flt: ResourceFilter, client_names: Mapping[int, str] | None = None) -> str:
    """``all Matched devices of Acme Corp named "fw"``; a client not in ``client_names`` is
    named by its id."""
    words = ["all"]
    if flt.status is not None:
        words.append(flt.status.label)
    words.append(f"{flt.type.label.lower()}s" if flt.type is not None else "resources")
    if isinstance(flt.why, MatchedOn):
        words.append(f"matched on {flt.why.label}")
    elif flt.why is not None:
        words.append(f"not synced: {flt.why.label}")
    if flt.client_id == NO_CLIENT:
        words.append("without a client")
    elif flt.client_id is not None:
        words.append(f"of {(client_names or {}).get(flt.client_id) or f'client {flt.client_id}'}")
    if name_search(flt.text):
        words.append(f"named “{flt.text}”")
    return " ".join(words)


def matches(flt: ResourceFilter, row: ResourceRow) -> bool:
    """Whether ``flt`` selects ``row``: the same test as the SQL filter, in Python, so the
    screen can draw a mark without asking the store."""
    if flt.integration_id is not None and row.integration_id != flt.integration_id:
        return False
    if flt.client_id == NO_CLIENT:
        if row.client_id is not None:
            return False
    elif flt.client_id is not None and row.client_id != flt.client_id:
        return False
    if flt.status is not None and row.status is not flt.status:
        return False
    if flt.type is not None and row.type is not flt.type:
        return False
    if flt.why is not None and flt.why.value not in (row.matched_on, row.reason_kind):
        return False
    search = name_search(flt.text)
    return not search or name_contains(row.name, search)


def marks_clause(marks: Marks) -> Any:
    """SQL selecting the marked resources."""
    parts = [queries.filter_clause(flt) for flt in marks.filters]
    if marks.added:
        parts.append(in_ids(R.id, marks.added))
    clause = or_(*parts) if parts else false()
    if marks.removed:
        clause = and_(clause, ~in_ids(R.id, marks.removed))
    return clause


def count(store: Store, marks: Marks) -> int:
    """How many resources are marked now. With one filter (the usual case) the count comes
    from the kept counts, corrected by the rows marked or unmarked one by one."""
    if not marks:
        return 0
    if len(marks.filters) == 1:
        flt = marks.filters[0]
        total = queries.count_resources(store, flt)
        with store.read() as conn:
            clause = queries.filter_clause(flt)
            if marks.removed:
                total -= conn.execute(select(func.count()).where(in_ids(R.id, marks.removed), clause)).scalar_one()
            if marks.added:
                total += conn.execute(select(func.count()).where(in_ids(R.id, marks.added), ~clause)).scalar_one()
        return total
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(resource_table).where(marks_clause(marks))
                            ).scalar_one()


def iter_marked(store: Store, marks: Marks, *, chunk: int = 5000) -> Iterator[ResourceRow]:
    """The marked resources as the table shows them, in id order, a chunk at a time (exports)."""
    last = 0
    clause = marks_clause(marks)
    while True:
        query = columns.row_query().where(clause, R.id > last).order_by(R.id).limit(chunk)
        with store.read() as conn:
            rows = list(columns.to_rows(conn.execute(query)))
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].id


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk action did: the batch (for undo), how many changed, how many it left alone."""

    result: ActionResult
    changed: int
    skipped: int

    @property
    def message(self) -> str:
        return self.result.message


#: Changed rows a bulk action's message names; the rest are counted.
NAMED_CHANGES = 5


def _marked(conn: Connection, marks: Marks,
            expected_count: int | None) -> tuple[dict[int, actions._Resource], str]:
    """The marked resources as the operator reviewed them, and a note naming the ones left
    alone because they changed since (empty when none did).

    Marks without a snapshot or versions (made by a script, not the screen) are checked by
    ``expected_count`` alone, the count the operator confirmed: any difference refuses all.
    """
    resources = actions.load_where(conn, marks_clause(marks))
    if marks.snapshot is None and not marks.versions and expected_count is not None \
            and len(resources) != expected_count:
        raise StaleResourceError(
            f"the marked resources changed since you confirmed ({expected_count:,} then, {len(resources):,} "
            "now: a sync or another operator changed them); nothing was done, check and try again")
    versions = dict(marks.versions)
    taken = marks.snapshot
    by_filter = [r for r in resources.values() if r.id not in versions]
    if by_filter and taken is not None:
        integrations = sorted({r.integration_id for r in by_filter})
        run = conn.execute(select(RUN.id, RUN.started_at).where(
            in_ids(RUN.integration_id, integrations), RUN.id > taken.run_id).order_by(RUN.id)).first()
        if run is not None:
            raise StaleResourceError(
                f"a sync ran since you marked these (run {run[0]}, started {run[1]:%Y-%m-%d %H:%M} UTC) and may "
                "have changed any of them; nothing was done: mark them again (-, then *) and act")
    changed: list[tuple[actions._Resource, str]] = []
    acted_since: set[int] = set()
    if taken is not None and by_filter:
        acted_since = {rid for (rid,) in conn.execute(select(AE.resource_id).distinct().where(
            AE.id > taken.audit_id, AE.resource_id.is_not(None)))}
    for resource in list(resources.values()):
        seen = versions.get(resource.id)
        if seen is not None:
            why = "" if resource.version == seen else _who_changed(resource)
        elif taken is None:
            why = ""
        elif resource.id > taken.resource_id:
            why = "new since you marked them"
        elif resource.id in acted_since:
            why = _who_changed(resource)
        else:
            why = ""
        if why:
            changed.append((resource, why))
            del resources[resource.id]
    listed = ""
    if changed:
        listed = "; ".join(f"{r.label} ({why})" for r, why in changed[:NAMED_CHANGES])
        if len(changed) > NAMED_CHANGES:
            listed += f" and {len(changed) - NAMED_CHANGES:,} more"
    if not resources:
        if changed:
            raise StaleResourceError(f"every marked resource changed since you marked it: {listed}; nothing was "
                                     "done: check them and mark again")
        raise ActionError("no marked resource left to act on")
    note = f"; left alone, changed since you marked them: {listed}" if changed else ""
    return resources, note


def _who_changed(resource: actions._Resource) -> str:
    who = resource.updated_by or "a sync"
    when = f" at {resource.updated_at:%H:%M:%S} UTC" if resource.updated_at else ""
    return f"changed by {who}{when}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def exclude(store: Store, marks: Marks, *, disable_records: bool = False, expected_count: int | None = None,
            operator: str | None = None) -> BulkResult:
    """Exclude every marked resource not excluded yet; with ``disable_records`` disable their records."""
    with store.write() as conn:
        resources, note = _marked(conn, marks, expected_count)
        todo = [r for r in resources.values() if r.status is not SyncStatus.EXCLUDED]
        skipped = len(resources) - len(todo)
        if not todo:
            raise ActionError(f"all {_plural(len(resources), 'marked resource')} are excluded already")
        batch = actions._Batch(conn, "exclude", operator or actions.current_operator())
        items, wanted = [], []
        for resource in todo:
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            message = f"excluded {resource.label}"
            if disable_records and resource.record_id is not None:
                wanted.append((resource.record_id, True, before, after))
                message += " and disabled its record"
            items.append(Change(resource, actions.EXCLUDED, before, after, message))
        disabled = actions._set_disabled_many(batch, wanted)
        summary = f"excluded {_plural(len(todo), 'resource')}"
        if disabled:
            summary += f" and disabled {_plural(disabled, 'record')}"
        if skipped:
            summary += f" ({skipped:,} already excluded, left as they were)"
        summary += note
        actions._apply_many(batch, items, summary)
        return BulkResult(batch.result(summary if len(items) > 1 or note else items[0].message), len(todo),
                          skipped)


def include(store: Store, marks: Marks, *, expected_count: int | None = None,
            operator: str | None = None) -> BulkResult:
    """Include every marked excluded resource again (Not Synced until matched)."""
    with store.write() as conn:
        resources, note = _marked(conn, marks, expected_count)
        todo = [r for r in resources.values() if r.status is SyncStatus.EXCLUDED]
        skipped = len(resources) - len(todo)
        if not todo:
            raise ActionError(f"none of the {_plural(len(resources), 'marked resource')} is excluded")
        batch = actions._Batch(conn, "include", operator or actions.current_operator())
        items = [Change(r, actions.INCLUDED, {}, {}, f"included {r.label} again (Not Synced until matched)")
                 for r in todo]
        summary = f"included {_plural(len(todo), 'resource')} again"
        if skipped:
            summary += f" ({skipped:,} not excluded, left as they were)"
        summary += note
        actions._apply_many(batch, items, summary)
        return BulkResult(batch.result(summary if len(items) > 1 or note else items[0].message), len(todo),
                          skipped)


# -- re-match (the proposals come from syncview.services.proposals) -----------------------------


def rematch(store: Store, proposals: Iterable[Proposal], *, disable_previous: bool = False,
            operator: str | None = None) -> BulkResult:
    """Re-match each resource to its proposal's record, all or nothing: refused whole if any
    resource changed since the proposal was read, or a record is taken or of the wrong type."""
    chosen = [(p, p.record_id) for p in proposals if p.record_id is not None]
    if not chosen:
        raise ActionError("nothing to re-match: every row is skipped")
    record_ids = [record_id for _, record_id in chosen]
    if len(set(record_ids)) != len(record_ids):
        raise ActionError("two resources are proposed the same record; choose another for one of them")
    with store.write() as conn:
        resources = actions.load_many(conn, [p.resource_id for p, _ in chosen])
        stale = [p for p, _ in chosen if p.resource_id not in resources
                 or resources[p.resource_id].version != p.version]
        if stale:
            first = resources.get(stale[0].resource_id)
            why = actions._changed_message(first) if first else f"resource {stale[0].resource_id} is gone"
            raise StaleResourceError(f"{_plural(len(stale), 'resource')} changed since the preview ({why}); "
                                     "nothing was done: preview again")
        records = {row[0]: row[1:] for row in conn.execute(
            select(REC.id, REC.type, REC.name, REC.disabled, REC.client_id).where(in_ids(REC.id, record_ids)))}
        linked = {(row[0], row[1]): (row[2], row[3]) for row in conn.execute(
            select(R.record_id, R.integration_id, R.id, R.name).where(in_ids(R.record_id, record_ids)))}
        batch = actions._Batch(conn, "rematch", operator or actions.current_operator())
        items: list[actions.Change] = []
        wanted: list[tuple[int, bool, dict[str, Any], dict[str, Any]]] = []
        for proposal, record_id in chosen:
            resource = resources[proposal.resource_id]
            if record_id not in records:
                raise ActionError(f"record {record_id} no longer exists; preview again")
            rtype, rname, rdisabled, rclient = records[record_id]
            if rtype != resource.type.value:
                raise ActionError(f"record {rname!r} is a {rtype}; {resource.label} can only be matched to a "
                                  f"{resource.type.value} record")
            other = linked.get((record_id, resource.integration_id))
            if other is not None and other[0] != resource.id:
                raise ActionError(f"record {rname!r} is already matched to {other[1]!r} (resource {other[0]}); "
                                  "choose another or skip that row")
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            message = f"re-matched {resource.label} to record {rname!r}"
            if disable_previous and resource.record_id is not None and resource.record_id != record_id:
                wanted.append((resource.record_id, True, before, after))
                message += ", disabled its previous record"
            if rdisabled:
                wanted.append((record_id, False, before, after))
                message += " (re-enabled it)"
            items.append(Change(resource, actions.matched_by_operator(record_id, rclient), before, after, message))
        actions._set_disabled_many(batch, wanted)
        summary = f"re-matched {_plural(len(items), 'resource')}"
        if disable_previous:
            summary += " (previous records disabled)"
        actions._apply_many(batch, items, summary)
        return BulkResult(batch.result(summary if len(items) > 1 else items[0].message), len(items), 0)

