"""The sync engine: run a connector for one integration and bring the store in step.

One run fetches page by page; each page is one write transaction that upserts the
page's resources in bulk, resolves their remote companies to local clients, applies
the matching rules of :mod:`syncview.services.matching`, creates missing records
when the integration asks for it, and writes the run's counts and a bounded number
of log lines. An interrupted run therefore leaves whole pages behind, never half of
one, and the next run simply fetches everything again and completes the work.

Rules the engine keeps:

- An operator's decision is never undone: a matched resource keeps its record and
  its client, an excluded one stays excluded.
- Nothing changes for nothing: a resource's ``version`` and ``updated_at`` move only
  when its data, client, status or record really changed; an unchanged source
  changes only ``last_seen``.
- Resources not seen by a full run that completed are marked ``deleted_remotely``
  (never deleted: their decisions and history stay); seen again, they are unmarked.
  An incremental run fetches only what changed, so it asks a connector that can
  (``supports_live_ids``) for the ids the product holds now and marks removed the
  known resources of the types it listed that it did not list. The ids go into a
  temporary table page by page, so a million of them cost no memory.
- A run left ``running`` by a process that died is closed as failed ("interrupted")
  when the next run of that integration starts.

No Textual and no rich here: progress goes to a plain callback.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, overload

from sqlalchemy import Connection, CursorResult, func, insert, select, update

from syncview.config import IntegrationConfig, resolve_settings
from syncview import signals
from syncview.connectors import registry
from syncview.connectors.base import (
    PAGES_BEYOND_TOTAL,
    Connector,
    IdPage,
    Page,
    payload_text,
    storable,
    within_total,
)
from syncview.connectors.http.connector import HttpConnector
from syncview.connectors.limits import RateBudget
from syncview.domain import RemoteItem, ResourceType, SyncStatus, normalise_name
from syncview.errors import ConfigError, ConnectorError, SyncviewError
from syncview.identity import DEFAULT_IDENTITY, IdentityRules, Keys
from syncview.redaction import redact
from syncview.services.matching import (
    DEFAULT_RULES,
    Decision,
    MatchInput,
    Records,
    Rule,
    decide,
    guessed_links,
    key_linked_carriers,
    load_records,
    shared_values,
    without_shared,
)
from syncview.services.queries import Totals, totals_on
from syncview.store import RawConnection, RawCursor, Store, derived, insert_rows, raw_connection
from syncview.store.db import db_time
from syncview.store.leases import StoreBudget
from syncview.store.locks import SyncLock, sync_lock_free, try_sync_lock
from syncview.store.models import (NEW_CLIENT_COLUMNS, NEW_RECORD_COLUMNS, Integration, SyncLogEntry, SyncRun,
                                    table_of)

RUNNING, SUCCESS, PARTIAL, FAILED = "running", "success", "partial", "failed"
#: Per-item log lines (matched, created, not synced, removed...) one run writes at most;
#: the rest are only counted, so a million-resource first sync does not bury the log.
ITEM_LOG_LIMIT = 200
#: Connector warnings (skipped rows and why) one run logs at most.
WARNING_LOG_LIMIT = 100

RUN = table_of(SyncRun).c
INTEG = table_of(Integration).c
_CLIENT = ResourceType.CLIENT
_STATUS = {s.value: s for s in SyncStatus}


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a run stands, reported after each committed page (and once at the start)."""

    integration: str
    #: what the last page held ("companies", "devices"...); empty before the first page
    entity: str
    #: items fetched so far in this run, all entities together
    fetched: int
    #: items the product reported for ``entity``, when it says
    total: int | None
    #: items of ``entity`` fetched so far
    entity_fetched: int
    pages: int
    #: requests the connector sent so far (None for one without HTTP)
    requests: int | None = None
    #: seconds since the run started
    elapsed: float = 0.0

    def time_left(self) -> float | None:
        """Seconds until ``entity`` is all fetched, at the run's pace so far; None when the product
        gave no total (the lists after it are not known yet, so this is the list in hand's)."""
        if self.total is None or self.fetched <= 0 or self.elapsed <= 0:
            return None
        return max(0, self.total - self.entity_fetched) * self.elapsed / self.fetched

    def describe(self) -> str:
        """The progress in one line, as the CLI's plain lines and the screen's tile show it."""
        parts = [f"{self.fetched:,} fetched"]
        if self.entity:
            of = f" of {self.total:,}" if self.total is not None else ""
            parts.append(f"{self.entity} {self.entity_fetched:,}{of}")
        parts.append(f"{self.pages:,} page{'s' if self.pages != 1 else ''}")
        if self.requests is not None:
            parts.append(f"{self.requests:,} request{'s' if self.requests != 1 else ''}")
        left = self.time_left()
        if left is not None:
            parts.append(f"about {_duration(left)} left for {self.entity}")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    """A short duration for an estimate: 45 s, 3 min, 1 h 20 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"


ProgressCallback = Callable[[SyncProgress], None]


@dataclass(slots=True)
class SyncCounts:
    """What one run did. ``matched``/``not_synced``/``excluded``/``removed_total`` are, once a
    run has ended, the integration's counts after it as the tiles and ``status`` show them
    (:class:`~syncview.services.queries.Totals`: live resources by status, the removed-remotely
    ones apart); while it runs, the fetched resources by the status they took. The others
    count what this run changed."""

    fetched: int = 0
    #: resources seen for the first time
    new: int = 0
    #: known resources whose data, client, status or record changed
    changed: int = 0
    unchanged: int = 0
    #: resources newly matched to an existing record
    linked: int = 0
    #: records created for resources that matched none (``create_missing``)
    created: int = 0
    matched: int = 0
    not_synced: int = 0
    excluded: int = 0
    #: resources this run marked removed remotely: not seen by a full run, or not listed by an
    #: incremental run's pass over live ids
    removed: int = 0
    #: resources removed remotely after the run, all runs together
    removed_total: int = 0
    #: resources marked deleted remotely before and seen again
    reappeared: int = 0
    #: connector warnings (skipped rows and why)
    warnings: int = 0

    def changes(self) -> str:
        """What the run changed, in words (the toast, the CLI and the run's log line say it alike)."""
        return (f"{self.new:,} new, {self.changed:,} changed, {self.linked:,} newly matched, "
                f"{self.created:,} records created, {self.removed:,} newly removed remotely")

    def standing(self) -> str:
        """How the integration stands after the run, as the tiles count it."""
        return (f"{self.matched:,} matched, {self.not_synced:,} not synced, {self.excluded:,} excluded, "
                f"{self.removed_total:,} removed remotely")

    def take_totals(self, totals: Totals) -> None:
        """Take the integration's counts after the run (the one definition the tiles use)."""
        self.matched = totals.by_status[SyncStatus.MATCHED]
        self.not_synced = totals.by_status[SyncStatus.NOT_SYNCED]
        self.excluded = totals.by_status[SyncStatus.EXCLUDED]
        self.removed_total = totals.removed


@dataclass(frozen=True, slots=True)
class SyncReport:
    """How a run ended."""

    integration: str
    run_id: int
    #: success, partial (stopped after committing pages) or failed (stopped before any)
    outcome: str
    counts: SyncCounts
    message: str | None
    #: seconds
    duration: float
    #: whether it fetched everything (rather than changes since the last run)
    full: bool

    @property
    def ok(self) -> bool:
        return self.outcome == SUCCESS

    def summary(self) -> str:
        """One line saying how the run ended (the CLI prints it, the screen notifies it)."""
        c = self.counts
        head = f"{self.integration}: {self.outcome} in {self.duration:.1f} s: {c.fetched:,} fetched"
        if not self.ok:
            return f"{head} — {self.message}"
        line = f"{head}, {c.changes()}; now {c.standing()}"
        if not self.full:
            line += " (changes only)"
        if self.message:
            line += f" — {self.message}"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {"integration": self.integration, "run_id": self.run_id, "outcome": self.outcome,
                "message": self.message, "duration": round(self.duration, 3), "full": self.full,
                "counts": asdict(self.counts)}


class SyncError(SyncviewError):
    """A run ended failed or partial; ``report`` says how far it got, ``__cause__`` why."""

    def __init__(self, report: SyncReport) -> None:
        super().__init__(report.message or f"sync of {report.integration} failed")
        self.report = report


class SyncCancelled(SyncviewError):
    """Raise it from a progress callback to stop a run between pages (the TUI's cancel)."""

    def __init__(self, message: str = "cancelled by the operator") -> None:
        super().__init__(message)


class SyncAlreadyRunningError(SyncviewError):
    """Another live process (or thread) is syncing the same integration."""


# --------------------------------------------------------------------------- entry points


def build_connector(integration: IntegrationConfig, *, environ: Mapping[str, str] = os.environ,
                    budget: RateBudget | None = None) -> Connector:
    """The connector for a configured integration, its secrets resolved; its rate shared through
    ``budget`` (the store's, store/leases.py) with every process and machine on the store.

    The generic ``timeout``, ``rate_limit``, ``concurrency``, ``rate_account``,
    ``max_response_bytes`` and ``request_deadline`` keys are handed over in the settings, where
    the HTTP layer (``HttpClient.for_connector``) reads them; ``pages_beyond_total`` too, where
    the engine reads it.
    """
    cls = registry.load(integration.kind)
    settings = resolve_settings(integration, environ=environ)
    settings["timeout"] = integration.timeout
    for key in ("rate_limit", "concurrency", "rate_account", "max_response_bytes", "request_deadline",
                "pages_beyond_total"):
        if getattr(integration, key) is not None:
            settings[key] = getattr(integration, key)
    connector = cls(integration.name, settings)
    if budget is not None and isinstance(connector, HttpConnector):
        connector.share_limits(budget)
    return connector


def sync_integration(
    store: Store,
    integration: IntegrationConfig,
    *,
    full: bool = False,
    on_progress: ProgressCallback | None = None,
    environ: Mapping[str, str] = os.environ,
) -> SyncReport:
    """Run a configured integration's connector; see :func:`sync_connector`.

    A disabled integration (``enabled = false``) is refused with a ConfigError.
    """
    if not integration.enabled:
        raise ConfigError(f'integration "{integration.name}" is disabled (enabled = false in the config); '
                          "enable it to sync it")
    with build_connector(integration, environ=environ, budget=StoreBudget(store)) as connector:
        return sync_connector(store, connector, create_missing=integration.create_missing, full=full,
                              on_progress=on_progress, match_on=tuple(Rule(r) for r in integration.match_on),
                              identity=integration.identity)


def sync_connector(
    store: Store,
    connector: Connector,
    *,
    create_missing: bool = False,
    full: bool = False,
    on_progress: ProgressCallback | None = None,
    match_on: Sequence[Rule] = DEFAULT_RULES,
    identity: IdentityRules = DEFAULT_IDENTITY,
) -> SyncReport:
    """Run ``connector`` for the integration it is named for and bring the store in step.

    The run fetches only what changed since the last successful run when the connector
    supports it, unless ``full``. The integration's store row is created if missing.
    ``match_on`` are the matching rules in order, ``identity`` the placeholder lists in force.

    Returns the report of a successful run. A run that fails or is stopped is recorded
    (partial when pages were committed, failed otherwise) and then: a connector or store
    error is raised as :class:`SyncError` carrying the report; KeyboardInterrupt,
    :class:`SyncCancelled` and unexpected exceptions are re-raised as they are.
    """
    began = time.monotonic()
    run = _start_run(store, connector, full=full)
    _ACTIVE_RUNS.add(run.id)
    state = _RunState(run, create_missing, connector.kind, tuple(match_on), identity)
    fetched: Iterator[Page] | None = None
    try:
        _report(on_progress, state, "", None, connector, began)
        beyond = connector.settings.get("pages_beyond_total")
        beyond = PAGES_BEYOND_TOTAL if beyond is None else int(beyond)
        fetched = connector.fetch(since=run.since)
        analysed_at = 0  # resources added when the statistics were last brought up to date
        for page in within_total(fetched, integration=run.name, beyond=beyond):
            payloads: dict[int, str] = {}  # the stored text of payloads the check worked out
            page = storable(page, payloads)  # an item SQLite cannot encode is skipped, not the whole page
            with _collector_paused(), store.write() as conn:
                state.apply(conn, page, payloads)
                # The next pages are planned for the rows there are now (a no-op on SQLite).
                if derived.analyze_grown(conn, state.counts.new - analysed_at):
                    analysed_at = state.counts.new
            _report(on_progress, state, page.entity, page.total, connector, began)
        if run.since is not None and connector.supports_live_ids:
            message = _finish_with_live_ids(store, connector, state, on_progress)
        else:
            with store.write() as conn:
                message = state.finish(conn)
        return SyncReport(run.name, run.id, SUCCESS, state.counts, message, time.monotonic() - began, run.since is None)
    except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM/SIGHUP (syncview.signals.Terminated)
        by = signals.name(getattr(error, "signum", None))
        _record_stop(store, state, f"interrupted by {by}" if by else "interrupted by the operator", began)
        raise
    except SyncCancelled as error:
        _record_stop(store, state, str(error), began)
        raise
    except SyncviewError as error:
        report = _record_stop(store, state, str(error), began)
        raise SyncError(report) from error
    except Exception as error:  # a bug: record it, keep the traceback for the crash report
        _record_stop(store, state, f"unexpected {type(error).__name__}: {error}", began)
        raise
    finally:
        _ACTIVE_RUNS.discard(run.id)
        # However the run ended, a connector fetching ahead stops here (and waits for its
        # requests in flight), before the connector itself is closed.
        close = getattr(fetched, "close", None)
        try:
            if close is not None:
                close()
        finally:
            run.lock.release()  # the run is closed (recorded): the next sync may start


def record_not_started(store: Store, integration: str, reason: str) -> None:
    """Log, where the screen's sync logs show it, why a (scheduled) sync of ``integration`` did not
    even start (its config, its secrets, another sync holding it); nothing if the store does not
    know the integration yet."""
    with store.write() as conn:
        integration_id = conn.execute(select(INTEG.id).where(INTEG.name == integration)).scalar()
        if integration_id is not None:
            conn.execute(insert(table_of(SyncLogEntry)).values(
                integration_id=integration_id, sync_run_id=None, time=_precise_now(), level="error",
                message=f"sync of {integration} not started: {reason}"))


def close_abandoned_runs(store: Store, integration_id: int | None = None) -> int:
    """Close as failed ("interrupted") the runs left ``running`` by processes that are gone.

    Runs of live processes are left alone. Returns how many were closed.
    """
    with store.write() as conn:
        closed, _ = _close_abandoned(conn, integration_id)
        return closed


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one page's work, back on after it.

    A page builds tens of thousands of small containers that live until the page is written
    (the items' keys, the candidate records' indexes): enough to start the collector's full
    passes over every object in the process again and again. They hold no cycles, so counting
    references frees them; the collector runs as usual between pages. Measured: half the CPU of
    a 100k sync linking on identity keys went to those passes (benchmarks/RESULTS.md)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


# --------------------------------------------------------------------------- run lifecycle

#: Runs this process is executing now: "running" rows of our own pid that are not here are dead.
_ACTIVE_RUNS: set[int] = set()
_HOST = socket.gethostname()
_OWNER = re.compile(r"^running in process (\d+) on (.+)$")


@dataclass(frozen=True, slots=True)
class _Run:
    id: int
    name: str
    integration_id: int
    started: datetime
    since: datetime | None
    #: the integration's sync lock, held until the run is recorded as ended (store/locks.py)
    lock: SyncLock


def _precise_now() -> datetime:
    # To the microsecond: "not seen in this run" compares last_seen with the run's start,
    # and two runs a second apart (tests, a quick re-run) must not share a timestamp.
    return datetime.now(UTC)


@overload
def _aware(moment: datetime) -> datetime: ...
@overload
def _aware(moment: None) -> None: ...
def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _new_id(result: CursorResult[Any]) -> int:
    """The id the engine gave the row a one-row INSERT wrote."""
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row has its key"
    return int(key[0])


def _start_run(store: Store, connector: Connector, *, full: bool) -> _Run:
    name = connector.integration
    lock: SyncLock | None = None
    try:
        with store.write() as conn:
            integration_id = conn.execute(select(INTEG.id).where(INTEG.name == name)).scalar()
            if integration_id is None:
                integration_id = _new_id(conn.execute(insert(table_of(Integration)).values(
                    name=name, kind=connector.kind, created_at=_precise_now())))
            lock = try_sync_lock(store, integration_id)
            if lock is None:  # another machine's (or process's) sync holds it: say whose
                live = _running_run(conn, integration_id) or "a process that has not yet recorded its run"
                raise SyncAlreadyRunningError(f"{name} is already being synced ({live}); wait for it to finish")
            return _open_run(conn, connector, integration_id, lock, full=full)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _running_run(conn: Connection, integration_id: int) -> str | None:
    """``run N, process P on HOST`` of the integration's run marked running, if any."""
    row = conn.execute(select(RUN.id, RUN.message).where(RUN.integration_id == integration_id, RUN.outcome == RUNNING)
                       .order_by(RUN.id.desc()).limit(1)).first()
    if row is None:
        return None
    owner = _OWNER.match(row.message or "")
    return f"run {row.id}, process {owner[1]} on {owner[2]}" if owner else f"run {row.id}"


def _open_run(conn: Connection, connector: Connector, integration_id: int, lock: SyncLock, *, full: bool) -> _Run:
    """Record a new run of the integration whose sync ``lock`` this process holds."""
    name = connector.integration
    _, live = _close_abandoned(conn, integration_id, held=integration_id if lock.exclusive else None)
    if live:
        raise SyncAlreadyRunningError(f"{name} is already being synced ({live}); wait for it to finish")
    since = None
    if connector.supports_incremental and not full:
        since = _aware(conn.execute(
            select(func.max(RUN.started_at)).where(RUN.integration_id == integration_id, RUN.outcome == SUCCESS)
        ).scalar())
    # Later than anything an earlier run stamped, even if the clock went back, so that
    # "last_seen before this run's start" means exactly "not seen by this run".
    last_start, last_end = conn.execute(
        select(func.max(RUN.started_at), func.max(RUN.ended_at)).where(RUN.integration_id == integration_id)
    ).one()
    started = max([_precise_now()] + [_aware(t) + timedelta(microseconds=1) for t in (last_start, last_end) if t])
    run_id = _new_id(conn.execute(insert(table_of(SyncRun)).values(
        integration_id=integration_id, started_at=started, outcome=RUNNING,
        message=f"running in process {os.getpid()} on {_HOST}",
    )))
    scope = f"changes since {since:%Y-%m-%d %H:%M:%S} UTC" if since else "full"
    conn.execute(insert(table_of(SyncLogEntry)).values(
        integration_id=integration_id, sync_run_id=run_id, time=started, level="info",
        message=f"sync of {name} started ({scope})"))
    return _Run(run_id, name, integration_id, started, since, lock)


def _close_abandoned(conn: Connection, integration_id: int | None, *, held: int | None = None
                     ) -> tuple[int, str | None]:
    """Close the dead "running" runs; returns how many, and a description of a live one if any.

    A run is alive while its integration's sync lock is held, where the engine can tell
    (PostgreSQL, across machines); ``held``: the integration whose lock the caller holds itself,
    so any run of it marked running is dead. Where it cannot tell (SQLite), while its process runs.
    """
    query = select(RUN.id, RUN.integration_id, RUN.message).where(RUN.outcome == RUNNING)
    if integration_id is not None:
        query = query.where(RUN.integration_id == integration_id)
    closed, live = 0, None
    now = _precise_now()
    for run_id, run_integration, message in conn.execute(query).all():
        owner = _OWNER.match(message or "")
        pid = int(owner[1]) if owner else None
        free = True if run_integration == held else sync_lock_free(conn, run_integration)
        if free is False:
            live = f"run {run_id}, process {pid} on {owner[2]}" if owner else f"run {run_id}"
            continue
        if free is None and owner and owner[2] == _HOST and _process_alive(pid, run_id):
            live = f"run {run_id}, process {pid}"
            continue
        why = f" (process {pid} ended before it finished)" if pid else ""
        conn.execute(update(table_of(SyncRun)).where(RUN.id == run_id).values(
            outcome=FAILED, ended_at=now, message=f"interrupted{why}; the next run completes it"))
        conn.execute(insert(table_of(SyncLogEntry)).values(
            integration_id=run_integration, sync_run_id=run_id, time=now, level="error",
            message=f"sync run {run_id} was interrupted{why}; closed as failed"))
        closed += 1
    return closed, live


def _process_alive(pid: int | None, run_id: int) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return run_id in _ACTIVE_RUNS
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there; assume it is gone
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _finish_with_live_ids(store: Store, connector: Connector, state: _RunState,
                          on_progress: ProgressCallback | None) -> str | None:
    """An incremental run's end: list the product's live ids, then finish, marking removed
    what they lack. One held connection: the ids' temporary table lives on it."""
    with store.connection() as held:
        live = _LiveIds(held)
        try:
            listed: _LiveIds | None = live
            try:
                for page in connector.live_ids():
                    live.add(page)
                    label = f"{page.type.value} ids"
                    state.entity_fetched[label] = state.entity_fetched.get(label, 0) + len(page.ids)
                    _report(on_progress, state, label, None)
            except ConnectorError as error:
                # The changes fetched are saved; only the deletions wait. Failing the run here
                # would fail every incremental sync of a product that refuses the id pass.
                listed = None
                note = f"deletions not checked this time: {redact(str(error))}"
                state.log("warning", f"{state.run.name}: {note}", item=False)
                state.notes.append(note)
            with store.write(on=held) as conn:
                return state.finish(conn, listed)
        finally:
            live.drop()


class _LiveIds:
    """The ids an incremental run's pass over live ids saw, in a temporary table of one held
    connection: bounded memory at any size, and an indexed anti-join for the removal query.

    Writing a temporary table takes no lock on the store, so the pass never holds up the
    screen or another writer while it waits for the product.
    """

    def __init__(self, conn: Connection) -> None:
        self.raw = raw_connection(conn)
        self.raw.execute("CREATE TEMP TABLE IF NOT EXISTS live_id (type TEXT NOT NULL, external_id TEXT NOT NULL,"
                         " PRIMARY KEY (type, external_id)) WITHOUT ROWID")
        self.raw.execute("DELETE FROM temp.live_id")
        #: type -> ids listed; a type listed with no id is named here with 0
        self.listed: dict[str, int] = {}

    def add(self, page: IdPage) -> None:
        type_ = page.type.value
        self.raw.execute("INSERT INTO temp.live_id (type, external_id) SELECT ?, value FROM json_each(?) WHERE true"
                         " ON CONFLICT DO NOTHING",
                         (type_, _json_list(page.ids)))
        self.listed[type_] = self.listed.get(type_, 0) + len(page.ids)

    def drop(self) -> None:
        # The connection goes back to the pool: leave no table behind on it. A failure here must
        # not hide the error that ended the run; a table left behind is emptied by the next pass.
        with contextlib.suppress(Exception):
            self.raw.execute("DROP TABLE IF EXISTS temp.live_id")


def _report(callback: ProgressCallback | None, state: _RunState, entity: str, total: int | None,
            connector: Connector | None = None, began: float | None = None) -> None:
    if callback is not None:
        callback(SyncProgress(state.run.name, entity, state.counts.fetched, total,
                              state.entity_fetched.get(entity, 0), state.pages,
                              connector.requests_sent if connector is not None else None,
                              time.monotonic() - began if began is not None else 0.0))


def _record_stop(store: Store, state: _RunState, reason: str, began: float) -> SyncReport:
    """Record a run that stopped before its end; the committed pages stay."""
    outcome = PARTIAL if state.pages else FAILED
    # Connector errors name their integration already; others get it in front. Masked: an
    # unexpected error's text may quote a secret, and this goes into the store.
    reason = redact(reason)
    message = reason if state.run.name in reason else f"{state.run.name}: {reason}"
    if outcome == PARTIAL:
        message += f" (stopped after {state.pages} page{'s' if state.pages != 1 else ''}; the next run completes it)"
    try:
        with store.write() as conn:
            if state.pages:
                state.counts.take_totals(totals_on(conn, state.run.integration_id))
            state.save_counts(conn, outcome=outcome, message=message, ended=True)
            state.log("error", message, item=False)
            state.flush_logs(conn)
    except SyncviewError:
        pass  # the store itself failed; the run stays "running" and the next start closes it
    return SyncReport(state.run.name, state.run.id, outcome, state.counts, message,
                      time.monotonic() - began, state.run.since is None)


# --------------------------------------------------------------------------- one run's work


class _RunState:
    """What a run carries from page to page: counts, log budget, the company -> client map."""

    def __init__(self, run: _Run, create_missing: bool, kind: str = "",
                 rules: tuple[Rule, ...] = DEFAULT_RULES, identity: IdentityRules = DEFAULT_IDENTITY) -> None:
        self.run = run
        self.create_missing = create_missing
        #: the connector's kind, which names the items' own cross-references
        self.kind = kind
        self.rules = rules
        self.identity = identity
        self.counts = SyncCounts()
        self.pages = 0
        self.entity_fetched: dict[str, int] = {}
        self.item_logs = 0
        self.warning_logs = 0
        self._logs: list[tuple[Any, ...]] = []
        #: notes for the run's message gathered before its end
        self.notes: list[str] = []
        #: normalised remote company -> local client id
        self.companies: dict[str, int] | None = None
        #: normalised local client name -> client id (lowest id of equal names)
        self.clients_by_name: dict[str, int] = {}
        self._norms: dict[str, str] = {}
        #: resources this run linked on an identity key (not a name)
        self.key_links: list[int] = []
        #: key values a page of this run found on several items (kind, value)
        self.shared_seen: set[tuple[str, str]] = set()
        #: values found on matching.MANY_CARRIERS items or more, not counted again this run
        self.popular: set[tuple[str, str]] = set()
        #: resources linked on a key of a value a later page brought again, checked at the end
        self.suspects: set[int] = set()

    # ---- logging

    def log(self, level: str, message: str, resource_id: int | None = None, *, item: bool = True) -> None:
        """Queue a log line; per-item lines beyond the run's budget are only counted."""
        if item:
            if self.item_logs >= ITEM_LOG_LIMIT:
                self.item_logs += 1
                return
            self.item_logs += 1
        self._logs.append((self.run.integration_id, self.run.id, db_time(_precise_now()), level, message,
                           resource_id))

    def flush_logs(self, conn: Connection) -> None:
        if self._logs:
            raw_connection(conn).executemany(
                "INSERT INTO sync_log_entry (integration_id, sync_run_id, time, level, message, resource_id)"
                " VALUES (?, ?, ?, ?, ?, ?)", self._logs)
            self._logs.clear()

    def save_counts(self, conn: Connection, *, outcome: str = RUNNING, message: str | None = None,
                    ended: bool = False) -> None:
        c = self.counts
        values: dict[str, Any] = dict(fetched=c.fetched, created=c.created, matched=c.matched,
                                      not_synced=c.not_synced, removed=c.removed)
        if ended:
            values.update(outcome=outcome, message=message, ended_at=_precise_now())
        conn.execute(update(table_of(SyncRun)).where(RUN.id == self.run.id).values(**values))

    # ---- company -> client

    def norm(self, text: str) -> str:
        """normalise_name, remembered: the same few company names come back on every item."""
        found = self._norms.get(text)
        if found is None:
            found = self._norms[text] = normalise_name(text)
        return found

    def load_companies(self, cursor: RawCursor) -> None:
        """Remote companies this integration already resolves: local clients by name, overridden by
        the integration's matched client resources (an operator's re-match of a company counts)."""
        self.clients_by_name = {}
        for client_id, name_norm in cursor.execute("SELECT id, name_norm FROM client ORDER BY id DESC"):
            self.clients_by_name[name_norm] = client_id
        self.companies = dict(self.clients_by_name)
        for company, name, client_id in cursor.execute(
            "SELECT remote_company, name, client_id FROM resource WHERE integration_id = ? AND type = 'client'"
            " AND status = 'matched' AND client_id IS NOT NULL", (self.run.integration_id,)
        ):
            self.companies[self.norm(company or name)] = client_id

    def resolve(self, item: RemoteItem) -> int | None:
        """The local client an item's remote company is matched to (a client item is its own company)."""
        company = item.remote_company
        if company is None:
            if item.type is not _CLIENT:
                return None
            company = item.name
        assert self.companies is not None, "the run's first page loads the companies"
        return self.companies.get(self.norm(company))

    # ---- pages

    def apply(self, conn: Connection, page: Page, payloads: Mapping[int, str] | None = None) -> None:
        """Write one page: the caller's transaction makes it land whole or not at all.
        ``payloads``: the stored text of some items' payloads, by ``id(item)``, where known."""
        cursor = raw_connection(conn).cursor()
        before = replace(self.counts), self.item_logs, self.warning_logs
        key_links = len(self.key_links)
        try:
            if self.companies is None:
                self.load_companies(cursor)
            for warning in page.warnings:
                self.counts.warnings += 1
                if self.warning_logs < WARNING_LOG_LIMIT:
                    self.log("warning", f"{self.run.name}: {warning}", item=False)
                self.warning_logs += 1
            items = _unique(page.items)
            if len(items) < len(page.items):
                self.log("warning", f"{self.run.name}: {len(page.items) - len(items)} item(s) came twice in "
                         "one page; the last copy of each was kept", item=False)
            # Companies first: a client created or matched here resolves the other items' company.
            clients = [item for item in items if item.type is _CLIENT]
            others = [item for item in items if item.type is not _CLIENT] if clients else items
            writer = _PageWriter(self, cursor, db_time(max(_precise_now(), self.run.started)), payloads or {})
            for batch in (clients, others):
                if batch:
                    writer.apply(batch)
            writer.write()
            self.counts.fetched += len(page.items)
            self.entity_fetched[page.entity] = self.entity_fetched.get(page.entity, 0) + len(page.items)
            self.pages += 1
            self.save_counts(conn)
            self.flush_logs(conn)
        except BaseException:
            # The page is rolled back: so are its counts and log lines. The company map (and the
            # shared values seen) may hold some of the page, but a run that failed here does not go on.
            self.counts, self.item_logs, self.warning_logs = before
            del self.key_links[key_links:]
            self._logs.clear()
            raise
        finally:
            cursor.close()

    def finish(self, conn: Connection, live: _LiveIds | None = None) -> str | None:
        """Take back links made on values later pages showed shared; mark removed what a full
        run did not see, or what an incremental run's pass over live ids (``live``, on ``conn``)
        did not list; close the run as a success."""
        self._unlink_shared(conn)
        notes = list(self.notes)
        if self.run.since is None:
            notes += self._mark_removed(conn)
        elif live is not None:
            notes += self._mark_unlisted(conn, live)
        if self.counts.warnings:
            notes.append(f"{self.counts.warnings} warning{'s' if self.counts.warnings != 1 else ''}: "
                         "some items were skipped (see the log)")
        c = self.counts
        c.take_totals(totals_on(conn, self.run.integration_id))
        summary = f"sync of {self.run.name} finished: {c.fetched:,} fetched, {c.changes()}; now {c.standing()}"
        if self.item_logs > ITEM_LOG_LIMIT:
            summary += f" ({self.item_logs - ITEM_LOG_LIMIT:,} more item events counted, not logged one by one)"
        if self.warning_logs > WARNING_LOG_LIMIT:
            summary += f" ({self.warning_logs - WARNING_LOG_LIMIT:,} more warnings not logged)"
        message = "; ".join(notes) or None
        self.save_counts(conn, outcome=SUCCESS, message=message, ended=True)
        self.log("info", summary, item=False)
        self.flush_logs(conn)
        return message

    def _unlink_shared(self, conn: Connection) -> None:
        """Links this run made on a key value that, as later pages showed, several items of the
        integration carry: the value identifies none of them, so the link was a guess. Each page
        already leaves out the values it can see are shared; this catches those whose other
        carriers came on a later page. Only this run's own links are taken back."""
        suspects = self.suspects
        check = [resource_id for resource_id in self.key_links if resource_id in suspects] if suspects else []
        if not check:
            return
        raw = raw_connection(conn)
        cursor = raw.cursor()
        try:
            guessed = guessed_links(cursor, self.run.integration_id, check)
            named = {rid: (type_, name) for rid, type_, name in cursor.execute(
                "SELECT id, type, name FROM resource WHERE id IN (SELECT value FROM json_each(?))",
                (_json_list(guessed),))} if guessed else {}
        finally:
            cursor.close()
        reasons = {rid: (*named[rid], reason) for rid, reason in guessed.items()}
        if not reasons:
            return
        now = db_time(_precise_now())
        raw.executemany(
            "UPDATE resource SET status = 'not_synced', record_id = NULL, matched_on = NULL, reason = ?,"
            " reason_kind = 'shared',"
            " updated_at = ?, updated_by = NULL, version = version + 1 WHERE id = ?",
            [(reason, now, resource_id) for resource_id, (_, _, reason) in reasons.items()])
        for resource_id, (type_, name, reason) in reasons.items():
            self.log("warning", f"{type_} {name!r} not synced after all: {reason}", resource_id)
        self.counts.linked -= len(reasons)
        self.counts.matched -= len(reasons)
        self.counts.not_synced += len(reasons)

    def _mark_removed(self, conn: Connection) -> list[str]:
        raw = raw_connection(conn)
        params = (self.run.integration_id, db_time(self.run.started))
        stale_where = "integration_id = ? AND deleted_remotely = 0 AND last_seen < ?"
        if self.counts.fetched == 0:
            # An empty answer is likelier a product glitch than every item deleted at once.
            stale = raw.execute(f"SELECT count(*) FROM resource WHERE {stale_where}", params).fetchone()[0]
            if stale:
                note = (f"the connector returned nothing; {stale:,} known resources were not marked removed "
                        "(check the product, then sync again)")
                self.log("warning", f"{self.run.name}: {note}", item=False)
                return [note]
            return []
        self._remove(raw, stale_where, params)
        return []

    def _mark_unlisted(self, conn: Connection, live: _LiveIds) -> list[str]:
        """Mark removed the known resources of each type the id pass listed that it did not list;
        unmark the ones marked removed before that it listed again.

        The same safety as a full run's, per type: a type listed with no id at all, while the
        store knows some, is likelier a product glitch than every one of them deleted.
        """
        raw = raw_connection(conn)
        notes, covered = [], []
        for type_, listed in live.listed.items():
            if listed == 0:
                known = raw.execute(
                    "SELECT count(*) FROM resource WHERE integration_id = ? AND type = ? AND deleted_remotely = 0",
                    (self.run.integration_id, type_)).fetchone()[0]
                if known:
                    note = (f"the product listed no {type_} at all; {known:,} known ones were not marked removed "
                            "(check the product, then sync again)")
                    self.log("warning", f"{self.run.name}: {note}", item=False)
                    notes.append(note)
                    continue
            covered.append(type_)
        if not covered:
            return notes
        listed_where = ("integration_id = ? AND type IN (SELECT value FROM json_each(?)) AND {} EXISTS"
                        " (SELECT 1 FROM temp.live_id l WHERE l.type = resource.type"
                        " AND l.external_id = resource.external_id)")
        params = (self.run.integration_id, _json_list(covered))
        self._remove(raw, listed_where.format("NOT") + " AND deleted_remotely = 0 AND last_seen < ?",
                     (*params, db_time(self.run.started)))
        back_where = listed_where.format("") + " AND deleted_remotely = 1"
        budget = max(0, ITEM_LOG_LIMIT - self.item_logs)
        for resource_id, type_, name in raw.execute(
            f"SELECT id, type, name FROM resource WHERE {back_where} ORDER BY id LIMIT ?", (*params, budget)
        ).fetchall():
            self.log("info", f"{type_} {name!r} is back remotely", resource_id)
        now = db_time(_precise_now())
        back = raw.execute(
            "UPDATE resource SET deleted_remotely = 0, version = version + 1, updated_at = ?, updated_by = NULL,"
            f" last_seen = ? WHERE {back_where}", (now, now, *params)).rowcount
        self.item_logs += max(0, back - budget)
        self.counts.reappeared += back
        return notes

    def _remove(self, raw: RawConnection, where: str, params: tuple[Any, ...]) -> None:
        """Mark the resources ``where`` selects removed remotely, logging them within the budget."""
        budget = max(0, ITEM_LOG_LIMIT - self.item_logs)
        for resource_id, type_, name in raw.execute(
            f"SELECT id, type, name FROM resource WHERE {where} ORDER BY id LIMIT ?", (*params, budget)
        ).fetchall():
            self.log("warning", f"{type_} {name!r} was removed remotely", resource_id)
        removed = raw.execute(
            f"UPDATE resource SET deleted_remotely = 1, version = version + 1, updated_at = ?, updated_by = NULL"
            f" WHERE {where}", (db_time(_precise_now()), *params)).rowcount
        self.item_logs += max(0, removed - budget)
        self.counts.removed += removed


def _unique(items: list[RemoteItem]) -> list[RemoteItem]:
    """The page's items, one per (type, external id), the last copy winning."""
    by_key = {(item.type._value_, item.external_id): item for item in items}
    return items if len(by_key) == len(items) else list(by_key.values())


def _json_list(values: Iterable[Any]) -> str:
    # Lists go to SQLite as one JSON parameter, read by json_each: no limit on their length.
    return json.dumps(list(values), separators=(",", ":"))


def settled(status: SyncStatus, record_id: int | None) -> bool:
    """Whether the matching rules leave a resource as it is whatever records exist: linked,
    or excluded (:func:`~syncview.services.matching.decide` answers KEEP or SKIP).

    The engine asks the rules only about the others: on a re-sync most resources are
    settled, and skipping the call is most of what makes a re-sync fast. A unit test
    holds this to ``decide``.
    """
    return status is _EXCLUDED or (status is _MATCHED and record_id is not None)


_MATCHED, _NOT_SYNCED, _EXCLUDED = SyncStatus.MATCHED, SyncStatus.NOT_SYNCED, SyncStatus.EXCLUDED
_LINK, _CREATE, _UNSYNCED, _KEEP = Decision.LINK, Decision.CREATE, Decision.NOT_SYNCED, Decision.KEEP


class _Existing(NamedTuple):
    """An item's stored row, as the engine reads it (``_EXISTING_SQL`` selects these columns)."""

    external_id: str
    id: int
    name: str
    name_norm: str
    remote_company: str | None
    payload: str
    client_id: int | None
    status: str
    record_id: int | None
    deleted_remotely: int
    matched_on: str | None
    reason: str | None
    reason_kind: str | None


_EXISTING_SQL = ", ".join(_Existing._fields)


class _Plan(NamedTuple):
    """What the first pass learned of one item, for the second to decide and write."""

    item: RemoteItem
    old: _Existing | None
    #: the rules' input, None for a settled item (linked or excluded)
    inp: MatchInput | None
    client_id: int | None
    name_norm: str
    status: SyncStatus
    #: the item's normalised identity keys, as stored
    keys: Keys


class _PageWriter:
    """Decides and writes one page: lookups and writes in bulk, one pass of Python in between."""

    def __init__(self, state: _RunState, cursor: RawCursor, now: str,
                 payloads: Mapping[int, str] | None = None) -> None:
        self.state = state
        #: the stored text of some items' payloads, by id(item), worked out by storable()
        self.payloads = payloads or {}
        self.cur = cursor
        self.now = now
        self.integration_id = state.run.integration_id
        self.inserts: list[tuple[Any, ...]] = []
        self.updates: list[tuple[Any, ...]] = []
        self.seen: list[int] = []
        self.new_clients: list[tuple[Any, ...]] = []
        self.new_records: list[tuple[Any, ...]] = []
        #: resources whose stored keys are replaced (their old ones deleted first)
        self.rekeyed: list[int] = []
        self.resource_keys: list[tuple[int, str, str]] = []
        self._next_ids: dict[str, int] = {}

    def next_id(self, table: str) -> int:
        # Ids are handed out here so new rows can be logged by id without reading them back;
        # BEGIN IMMEDIATE keeps any other writer out until the page commits.
        if table not in self._next_ids:
            self._next_ids[table] = self.cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0] + 1
        value = self._next_ids[table]
        self._next_ids[table] = value + 1
        return value

    def existing(self, items: list[RemoteItem]) -> dict[tuple[str, str], _Existing]:
        """The stored rows of the items already known, by (type, external id)."""
        by_type: dict[str, list[str]] = {}
        for item in items:
            by_type.setdefault(item.type._value_, []).append(item.external_id)
        found: dict[tuple[str, str], _Existing] = {}
        make = _Existing._make
        for type_, ids in by_type.items():
            rows = self.cur.execute(
                f"SELECT {_EXISTING_SQL} FROM resource WHERE integration_id = ? AND type = ?"
                " AND external_id IN (SELECT value FROM json_each(?))", (self.integration_id, type_, _json_list(ids))
            ).fetchall()
            found.update(((type_, row[0]), make(row)) for row in rows)
        return found

    def stored_keys(self, resource_ids: list[int]) -> dict[int, tuple[tuple[str, str], ...]]:
        """The keys stored for these resources, each resource's as sorted (kind, value) pairs
        (as :meth:`Keys.pairs` gives them)."""
        found: dict[int, list[tuple[str, str]]] = {}
        if resource_ids:
            for resource_id, kind, value in self.cur.execute(
                "SELECT resource_id, kind, value FROM resource_key WHERE resource_id IN (SELECT value FROM json_each(?))"
                " ORDER BY resource_id, kind, value", (_json_list(resource_ids),)
            ):
                found.setdefault(resource_id, []).append((kind, value))
        return {resource_id: tuple(pairs) for resource_id, pairs in found.items()}

    def apply(self, items: list[RemoteItem]) -> None:
        """Decide every item of one batch and queue its row changes."""
        state = self.state
        counts = state.counts
        existing = self.existing(items)
        resolve = state.resolve
        normalise = state.identity.normalise
        # First pass: each item's keys, and what the rules need to know of it. Settled items
        # (linked or excluded) stay as they are and never reach the rules.
        plans: list[_Plan] = []
        inp: MatchInput | None
        for item in items:
            old = existing.get((item.type._value_, item.external_id))
            if old is None:
                name_norm = normalise_name(item.name)
                found = normalise(item.keys, item.type, item.name, name_norm)
                inp = MatchInput(item.type, resolve(item), name_norm, _NOT_SYNCED, None, found.keys, found.refused,
                                 item.name)
                plans.append(_Plan(item, None, inp, inp.client_id, name_norm, _NOT_SYNCED, found.keys))
                continue
            status = _STATUS[old.status]
            name_norm = old.name_norm if old.name == item.name else normalise_name(item.name)
            found = normalise(item.keys, item.type, item.name, name_norm)
            if settled(status, old.record_id):
                # A linked resource's client is its record's, set when it was linked: keep it.
                client_id = old.client_id if status is _MATCHED else resolve(item)
                plans.append(_Plan(item, old, None, client_id, name_norm, status, found.keys))
            else:
                inp = MatchInput(item.type, resolve(item), name_norm, status, old.record_id, found.keys,
                                 found.refused, item.name)
                plans.append(_Plan(item, old, inp, inp.client_id, name_norm, status, found.keys))
        old_keys = self.stored_keys([plan.old.id for plan in plans if plan.old is not None])
        pending = [plan for plan in plans if plan.inp is not None]
        records = Records()
        shared: dict[tuple[str, str], int] = {}
        if pending or state.key_links:
            # Values several items of the integration carry identify none of them.
            outside: dict[tuple[str, str], int] = {}
            shared = shared_values(self.cur, self.integration_id,
                                   [(plan.old.id if plan.old else None, plan.keys) for plan in plans], outside,
                                   state.popular)
            self.watch(shared, outside)
        if pending:
            if shared:
                for number, plan in enumerate(plans):
                    if plan.inp is not None and plan.inp.keys:
                        keys, notes = without_shared(plan.inp.keys, shared)
                        if notes:
                            plans[number] = plan._replace(inp=replace(plan.inp, keys=keys,
                                                                      notes=plan.inp.notes + notes))
            records = load_records(self.cur, self.integration_id, [p.inp for p in plans if p.inp is not None],
                                   state.rules)

        create_missing = state.create_missing
        rules = state.rules
        companies = state.companies
        assert companies is not None, "the run's first page loads the companies"
        encode = payload_text
        payloads = self.payloads
        now = self.now
        for item, old, inp, client_id, name_norm, status, keys in plans:
            record_id = None if old is None else old.record_id
            matched_on = None if old is None else old.matched_on
            reason = None if old is None else old.reason
            reason_kind = None if old is None else old.reason_kind
            note = None
            key_link = False
            if inp is not None:
                outcome = decide(inp, records, create_missing=create_missing, rules=rules)
                decision = outcome.decision
                record_id = outcome.record_id
                matched_on = outcome.matched_on._value_ if outcome.matched_on else None
                reason = reason_kind = None
                if decision is _LINK:
                    assert record_id is not None, "a link names its record"
                    status = _MATCHED
                    client_id = records.info[record_id].client_id
                    counts.linked += 1
                    key_link = matched_on != "name"
                    note = ("info", f"{item.type._value_} {item.name!r} matched to its record on {matched_on}")
                elif decision is _CREATE:
                    status = _MATCHED
                    client_id, record_id = self.create_record(item, inp)
                    counts.created += 1
                    note = ("info", f"{item.type._value_} {item.name!r}: created its record")
                elif decision is _UNSYNCED:
                    status = _NOT_SYNCED
                    reason = outcome.reason
                    reason_kind = outcome.kind._value_ if outcome.kind else None
                    if old is None or old.status != status or old.reason != reason:
                        note = ("warning", f"{item.type._value_} {item.name!r} not synced: {reason}")
                else:  # KEEP or SKIP of an unsettled input cannot happen; keep what the rules said
                    status = _MATCHED if decision is _KEEP else _EXCLUDED
            if status is _MATCHED:
                counts.matched += 1
                if item.type is _CLIENT and client_id is not None:
                    companies[state.norm(item.remote_company or item.name)] = client_id
            elif status is _EXCLUDED:
                counts.excluded += 1
            else:
                counts.not_synced += 1

            payload = payloads.get(id(item))
            if payload is None:
                payload = encode(item.payload)
            pairs = keys.pairs()
            if old is None:
                resource_id = self.next_id("resource")
                self.inserts.append((resource_id, self.integration_id, item.type._value_, item.external_id,
                                     item.name, name_norm, item.remote_company, client_id, payload,
                                     status._value_, record_id, now, now, 0, 1, matched_on, reason, reason_kind))
                self.resource_keys.extend((resource_id, k, v) for k, v in pairs)
                counts.new += 1
            else:
                resource_id = old.id
                same_keys = old_keys.get(resource_id, ()) == pairs
                if not same_keys:
                    self.rekeyed.append(resource_id)
                    self.resource_keys.extend((resource_id, k, v) for k, v in pairs)
                if (same_keys and old.payload == payload and old.name == item.name and old.client_id == client_id
                        and old.status == status and old.record_id == record_id
                        and old.remote_company == item.remote_company and not old.deleted_remotely
                        and old.matched_on == matched_on and old.reason == reason
                        and old.reason_kind == reason_kind):
                    self.seen.append(resource_id)
                    counts.unchanged += 1
                else:
                    self.updates.append((item.name, name_norm, item.remote_company, payload, client_id,
                                         status._value_, record_id, matched_on, reason, reason_kind, now, now,
                                         resource_id))
                    counts.changed += 1
                    if old.deleted_remotely:
                        counts.reappeared += 1
                        note = note or ("info", f"{item.type._value_} {item.name!r} is back remotely")
            if key_link:
                state.key_links.append(resource_id)
            if note is not None:
                state.log(note[0], note[1], resource_id)

    def watch(self, shared: Mapping[tuple[str, str], int], outside: Mapping[tuple[str, str], int]) -> None:
        """Note the resources whose link this page may show to rest on a shared value.

        A link on a key rests on values no other live item carried when it was made. Should a
        later page bring another carrier, the value is found shared here for the first time in
        the run with a carrier outside the page: the link's resource is among those carriers.
        Only they are checked again at the end (:meth:`_RunState._unlink_shared`), in memory
        until then, rather than every link the run made."""
        state = self.state
        new = [key for key in shared if key not in state.shared_seen]
        if not new:
            return
        state.shared_seen.update(new)
        if state.key_links:
            rest = [key for key in new if outside.get(key)]
            if rest:
                state.suspects.update(key_linked_carriers(self.cur, self.integration_id, rest))

    def create_record(self, item: RemoteItem, inp: MatchInput) -> tuple[int | None, int]:
        """A record for an item that matched none; a client item gets its client too, unless a
        local client of its name exists. Returns (client id, record id).

        The record has the item's keys through the link (matched_on "created"), refreshed by
        every sync; should an operator unlink the item, the record keeps them (actions copy
        them into ``record_key``)."""
        state = self.state
        client_id = inp.client_id
        if item.type is _CLIENT:
            client_id = state.clients_by_name.get(inp.name_norm)
            if client_id is None:
                client_id = self.next_id("client")
                self.new_clients.append((client_id, item.name, inp.name_norm))
                state.clients_by_name[inp.name_norm] = client_id
        record_id = self.next_id("record")
        self.new_records.append((record_id, item.type._value_, client_id, item.name, inp.name_norm, False, "{}",
                                 self.now, self.now))
        return client_id, record_id

    def write(self) -> None:
        """Send the queued rows to the store, each kind at once: new rows in one insert_rows
        (executemany on SQLite, one COPY on PostgreSQL), changes in one executemany."""
        cur = self.cur
        insert_rows(cur, "client", NEW_CLIENT_COLUMNS, self.new_clients)
        insert_rows(cur, "record", NEW_RECORD_COLUMNS, self.new_records)
        insert_rows(cur, "resource", (
            "id", "integration_id", "type", "external_id", "name", "name_norm", "remote_company", "client_id",
            "payload", "status", "record_id", "first_seen", "last_seen", "deleted_remotely", "version",
            "matched_on", "reason", "reason_kind"), self.inserts)
        if self.updates:
            cur.executemany(
                "UPDATE resource SET name = ?, name_norm = ?, remote_company = ?, payload = ?, client_id = ?,"
                " status = ?, record_id = ?, matched_on = ?, reason = ?, reason_kind = ?, last_seen = ?, updated_at = ?,"
                " updated_by = NULL, deleted_remotely = 0, version = version + 1 WHERE id = ?", self.updates)
        if self.seen:
            cur.execute("UPDATE resource SET last_seen = ? WHERE id IN (SELECT value FROM json_each(?))",
                        (self.now, _json_list(self.seen)))
        if self.rekeyed:
            cur.execute("DELETE FROM resource_key WHERE resource_id IN (SELECT value FROM json_each(?))",
                        (_json_list(self.rekeyed),))
        insert_rows(cur, "resource_key", ("resource_id", "kind", "value"), self.resource_keys)
