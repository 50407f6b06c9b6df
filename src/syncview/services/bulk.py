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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Connection, and_, exists, false, func, literal_column, or_, select

from syncview.domain import MatchedOn, ResourceType, SyncStatus, name_contains, name_search
from syncview.errors import ActionError, StaleResourceError
from syncview.services import actions, columns, queries
from syncview.services.actions import ActionResult, Change, in_ids
from syncview.services.matching import similarity_key
from syncview.services.queries import NO_CLIENT, ResourceFilter, ResourceRow
from syncview.store import Store
from syncview.store.models import audit_table, client_table, record_table, resource_table, sync_run_table

R = resource_table.c
REC = record_table.c
CL = client_table.c
AE = audit_table.c
RUN = sync_run_table.c

#: A suggestion is a Not Synced resource whose best free candidate scores at least this (0-100).
SUGGEST_THRESHOLD = 85.0
#: Candidates ranked per resource when proposing; the best one no other resource took wins.
_RANKED = 5


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


# -- re-match proposals ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """A resource and the record a bulk re-match would link it to (None: no candidate; skipped)."""

    resource_id: int
    resource_name: str
    type: ResourceType
    version: int
    client_name: str | None
    current_record: str | None
    record_id: int | None = None
    record_name: str | None = None
    score: float = 0.0
    #: the proposed record's client (a resource whose company is unmatched has none of its own)
    record_client: str | None = None
    #: the next best free candidates (id, name, score), for the operator to pick from
    others: tuple[tuple[int, str, float], ...] = field(default=(), compare=False)


@dataclass(slots=True)
class _Target:
    id: int
    type: str
    integration_id: int
    client_id: int | None
    name: str
    version: int
    record_id: int | None
    client_name: str | None
    record_name: str | None


def _targets(conn: Connection, clause: ColumnElement[bool]) -> list[_Target]:
    current = record_table.alias("current")
    query = (
        select(R.id, R.type, R.integration_id, R.client_id, R.name, R.version, R.record_id, CL.name,
               current.c.name)
        .select_from(resource_table.outerjoin(client_table, CL.id == R.client_id)
                     .outerjoin(current, current.c.id == R.record_id))
        .where(clause).order_by(R.id)
    )
    return [_Target(*row) for row in conn.execute(query)]


def _records(conn: Connection, type_: str, client_id: int | None, integration_id: int) -> dict[int, tuple[str, str | None]]:
    """Records a resource of ``type_`` and client may be re-matched to, as the Re-match dialog
    offers them (its client's; all of the type if that has none), free in this integration."""
    # Probed per record through ix_resource_record (the unary + keeps SQLite on it, as in
    # matching.load_free_records), not a list of every linked record built per group.
    linked = exists().where(R.record_id == REC.id, literal_column("+resource.integration_id") == integration_id)

    def of(client: int | None) -> dict[int, tuple[str, str | None]]:
        query = (select(REC.id, REC.name, CL.name)
                 .select_from(record_table.outerjoin(client_table, CL.id == REC.client_id))
                 .where(REC.type == type_, ~linked))
        if client is not None:
            query = query.where(REC.client_id == client)
        rows = conn.execute(query.order_by(REC.name_norm, REC.id).limit(5000)).all()
        return {rid: (name, client_name) for rid, name, client_name in rows}

    found = of(client_id)
    if not found and client_id is not None:
        found = of(None)
    return found


def propose(store: Store, marks: Marks) -> list[Proposal]:
    """For each marked resource, the best-ranked free record of its type (and client), by the
    Re-match dialog's similarity; no two resources get the same record (the better score wins)."""
    return [proposal for chunk, _done, _total in propose_iter(store, marks) for proposal in chunk]


#: Resources ranked per chunk of :func:`propose_iter` (a screen shows each chunk as it comes).
CHUNK = 500


def propose_iter(store: Store, marks: Marks, *, chunk: int = CHUNK) -> Iterator[tuple[list[Proposal], int, int]]:
    """:func:`propose` a chunk at a time: yields (proposals, resources done, resources in all).

    Resources with a client come first, client by client, so their (cheap) proposals arrive
    at once; those without one (their company is unmatched) are ranked against every record
    of their type, the slow part at a million resources, and come last. A record proposed in
    an earlier chunk is not proposed again.
    """
    with store.read() as conn:
        targets = _targets(conn, marks_clause(marks))
    targets.sort(key=lambda t: (t.client_id is None, t.integration_id, t.client_id or 0, t.type, t.id))
    taken: set[int] = set()
    group: tuple[object, ...] | None = None
    records: dict[int, tuple[str, str | None]] = {}
    keyed: dict[int, str] = {}
    exact: dict[str, list[int]] = {}
    for start in range(0, len(targets), chunk):
        part = targets[start:start + chunk]
        ranked: dict[int, list[tuple[int, str, float]]] = {}
        record_clients: dict[int, str | None] = {}
        with store.read() as conn:
            for target in part:
                if (target.type, target.client_id, target.integration_id) != group:
                    group = (target.type, target.client_id, target.integration_id)
                    records = _records(conn, *group)
                    keyed = {rid: similarity_key(name) for rid, (name, _) in records.items()}
                    exact = {}
                    for rid, key in keyed.items():
                        exact.setdefault(key, []).append(rid)
                if not records:
                    continue
                key = similarity_key(target.name)
                if key in exact:
                    # Equal keys score 100, the best there is: no need to score the whole group
                    # (re-matching thousands of included resources to their old records).
                    found = [(rid, 100.0) for rid in exact[key][:_RANKED]]
                else:
                    found = [(rid, round(score, 1)) for _, score, rid in
                             process.extract(key, keyed, scorer=fuzz.WRatio, limit=_RANKED, processor=None)]
                ranked[target.id] = [(rid, records[rid][0], score) for rid, score in found]
                record_clients.update((rid, records[rid][1]) for rid, _ in found)
        yield _assign(part, ranked, record_clients, taken), start + len(part), len(targets)


def _assign(targets: Sequence[_Target], ranked: dict[int, list[tuple[int, str, float]]],
            record_clients: dict[int, str | None], taken: set[int]) -> list[Proposal]:
    """Greedy by score: the resource with the best candidate takes it, the next takes its best
    untaken one, and so on (``taken`` holds, and gains, the records already proposed).
    Proposals come back in the resources' order."""
    chosen: dict[int, tuple[int, str, float]] = {}
    order = sorted(targets, key=lambda t: -(ranked.get(t.id) or [(0, "", 0.0)])[0][2])
    for target in order:
        for candidate in ranked.get(target.id, []):
            if candidate[0] not in taken:
                taken.add(candidate[0])
                chosen[target.id] = candidate
                break
    proposals = []
    for target in targets:
        pick = chosen.get(target.id)
        others = tuple(c for c in ranked.get(target.id, []) if pick is None or c[0] != pick[0])
        proposals.append(Proposal(
            target.id, target.name, ResourceType(target.type), target.version, target.client_name,
            target.record_name, pick[0] if pick else None, pick[1] if pick else None,
            pick[2] if pick else 0.0, record_clients.get(pick[0]) if pick else None, others))
    return proposals


def suggestions(store: Store, integration_id: int, *, client_id: int | None = None,
                threshold: float = SUGGEST_THRESHOLD) -> list[Proposal]:
    """Not Synced resources of an integration (and client) whose best free candidate scores at
    least ``threshold``, best first."""
    found = [p for chunk, _done, _total in suggestions_iter(store, integration_id, client_id=client_id,
                                                             threshold=threshold) for p in chunk]
    return sorted(found, key=lambda p: (-p.score, p.resource_name.casefold(), p.resource_id))


def suggestions_iter(store: Store, integration_id: int, *, client_id: int | None = None,
                     threshold: float = SUGGEST_THRESHOLD) -> Iterator[tuple[list[Proposal], int, int]]:
    """:func:`suggestions` a chunk at a time, as :func:`propose_iter` (each chunk best first)."""
    flt = ResourceFilter(integration_id, client_id, status=SyncStatus.NOT_SYNCED)
    for chunk, done, total in propose_iter(store, Marks((flt,))):
        kept = [p for p in chunk if p.record_id is not None and p.score >= threshold]
        yield sorted(kept, key=lambda p: (-p.score, p.resource_name.casefold(), p.resource_id)), done, total


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

