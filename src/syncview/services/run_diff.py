"""What one sync run changed: records it created, resources it matched, left Not Synced, found
removed remotely (or back), and the resources it saw for the first time.

The counts come from the run itself (exact). The lists come from the run's per-item log
lines, which a run writes for its first :data:`~syncview.services.sync.ITEM_LOG_LIMIT`
item events only; :attr:`RunDiff.complete` says whether they are all there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from syncview.domain import SyncStatus
from syncview.errors import NotFoundError
from syncview.store import Store
from syncview.store.models import resource_table, sync_log_table, sync_run_table

R = resource_table.c
LOG = sync_log_table.c
RUN = sync_run_table.c

#: Sections of a diff, in reading order: (key, title, how the sync engine's log line says it).
#: Each names what the run did to the resources listed, never how many stand so after it
#: (a "Not Synced 391" beside a "Not Synced (1)" list read as a contradiction).
SECTIONS = (
    ("created", "Records created", "created its record"),
    ("matched", "Newly matched", "matched to its record"),
    ("not_synced", "Newly Not Synced", " not synced: "),
    ("removed", "Removed remotely", "was removed remotely"),
    ("back", "Back remotely", "is back remotely"),
)


@dataclass(frozen=True, slots=True)
class DiffItem:
    resource_id: int | None
    type: str | None
    name: str | None
    #: the resource's status now (it may have changed since the run)
    status_now: SyncStatus | None
    message: str


@dataclass(frozen=True, slots=True)
class RunDiff:
    id: int
    integration_id: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    fetched: int
    created: int
    matched: int
    not_synced: int
    removed: int
    message: str | None
    #: resources first seen during the run
    new_resources: int
    items: dict[str, list[DiffItem]] = field(default_factory=dict)
    #: the run logged every item event (fewer than its log budget)
    complete: bool = True

    def section(self, key: str) -> list[DiffItem]:
        return self.items.get(key, [])


def run_diff(store: Store, run_id: int) -> RunDiff:
    """The changes of sync run ``run_id``; NotFoundError if there is no such run."""
    from syncview.services.sync import ITEM_LOG_LIMIT

    with store.read() as conn:
        run = conn.execute(
            select(RUN.id, RUN.integration_id, RUN.started_at, RUN.ended_at, RUN.outcome, RUN.fetched,
                   RUN.created, RUN.matched, RUN.not_synced, RUN.removed, RUN.message).where(RUN.id == run_id)
        ).first()
        if run is None:
            raise NotFoundError(f"no sync run with id {run_id}")
        new = conn.execute(select(func.count()).where(
            R.integration_id == run.integration_id, R.first_seen >= run.started_at,
            *([R.first_seen <= run.ended_at] if run.ended_at else []))).scalar_one()
        lines = conn.execute(
            select(LOG.resource_id, R.type, R.name, R.status, LOG.message)
            .select_from(sync_log_table.outerjoin(resource_table, R.id == LOG.resource_id))
            .where(LOG.sync_run_id == run_id, LOG.resource_id.is_not(None)).order_by(LOG.id)
        ).all()
    items: dict[str, list[DiffItem]] = {key: [] for key, _, _ in SECTIONS}
    for resource_id, type_, name, status, message in lines:
        for key, _title, marker in SECTIONS:
            if marker in message:
                items[key].append(DiffItem(resource_id, type_, name, SyncStatus(status) if status else None,
                                           message))
                break
    return RunDiff(*run, new_resources=new, items=items, complete=len(lines) < ITEM_LOG_LIMIT)


def runs(store: Store, integration_id: int, *, limit: int = 200) -> list[tuple[int, datetime, str]]:
    """Recent runs of an integration, newest first: (id, started at, outcome)."""
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(
            select(RUN.id, RUN.started_at, RUN.outcome).where(RUN.integration_id == integration_id)
            .order_by(RUN.started_at.desc(), RUN.id.desc()).limit(limit))]
