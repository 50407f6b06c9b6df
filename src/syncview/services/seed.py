"""Write the demo MSP (:mod:`syncview.demo`) into a store, in bulk.

One transaction: a seed that fails half way (a full disk, say) leaves the store as
it was. Rows go in through the DB-API in chunks (:func:`~syncview.store.insert_rows`:
``executemany`` on SQLite, COPY on PostgreSQL), not one ORM object at a time, as a
bulk load (:func:`~syncview.store.derived.start_bulk_load`): on PostgreSQL the kept
counts are recounted once at the end, the planner gets statistics of the loaded
rows before the seeder's own queries run, and the tables are vacuumed once it has
committed (:func:`~syncview.store.derived.vacuum_after_bulk_load`), so the first
screen reads covering indexes alone.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import Connection, Table, func, select

from syncview.demo import DEFAULT_RESOURCES, INTEGRATIONS, DemoClient, DemoResource, DemoWorld
from syncview.domain import ResourceType, SyncStatus, normalise_name
from syncview.errors import ActionError
from syncview.domain import MatchedOn
from syncview.identity import IdentityRules, KeyKind, Keys
from syncview.services.matching import (
    Decision,
    MatchInput,
    Records,
    decide,
    load_records,
    shared_values,
    without_shared,
)
from syncview.services.sync import SyncCounts
from syncview.store import RawCursor, Store, insert_id, insert_rows, raw_connection
from syncview.store import derived
from syncview.store.dialect import upsert
from syncview.store.db import db_time, utcnow
from syncview.store.models import (NEW_CLIENT_COLUMNS, NEW_RECORD_COLUMNS, client_table, integration_table, meta_table,
                                    record_table, resource_table)

#: ``meta`` key holding how the demo was seeded: {"resources": N, "seed": S}.
DEMO_META_KEY = "demo"

_CHUNK = 20_000
#: The placeholder lists the demo integrations are synced with (no config adds to them).
_IDENTITY = IdentityRules()
#: Not Synced resources given their reason per statement batch, as a sync page decides them.
_SETTLE_PAGE = 5_000
#: The keys a link can rest on, strongest first (the default rules; the name last).
_LINK_KEYS = (KeyKind.XREF, KeyKind.SERIAL, KeyKind.MAC, KeyKind.EMAIL)
#: Hours between two demo syncs of an integration, and how far back they go.
_SYNC_EVERY_H = 6
_HISTORY_DAYS = 28
_OPERATORS = ("jsmith", "akumar", "mlopez")


@dataclass(frozen=True, slots=True)
class SeedSummary:
    integrations: int
    clients: int
    records: int
    resources: int
    sync_runs: int
    log_entries: int


def _max_id(conn: Connection, table: Table) -> int:
    top: int = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return top


def demo_settings(store: Store) -> dict[str, int] | None:
    """How the store's demo was seeded ({"resources", "seed"}), or None when it holds no demo."""
    table = meta_table
    with store.read() as conn:
        value = conn.execute(select(table.c.value).where(table.c.key == DEMO_META_KEY)).scalar_one_or_none()
    if value is None:
        return None
    try:
        settings = json.loads(value)
        return {"resources": int(settings["resources"]), "seed": int(settings["seed"])}
    except (ValueError, TypeError, KeyError):
        return None  # written by hand or damaged: the demo simply is not syncable without a config


def seed_demo(store: Store, resources: int = DEFAULT_RESOURCES, *, seed: int = 7,
              now: datetime | None = None) -> SeedSummary:
    """Seed the demo integrations with exactly ``resources`` remote resources.

    Refuses (ActionError) when the store already has the demo integrations.
    """
    now = (now or utcnow()).replace(second=0)
    with store.write() as conn:
        existing = conn.execute(
            select(integration_table.c.name).where(integration_table.c.name.in_(list(INTEGRATIONS)))
        ).scalars().all()
        if existing:
            raise ActionError(f"the store {store.path} already holds the demo integration(s) "
                              f"{', '.join(existing)}; use another --db path for a fresh demo")
        derived.start_bulk_load(conn)
        cursor = raw_connection(conn).cursor()
        world = DemoWorld(resources, seed=seed,
                          first_client_id=_max_id(conn, client_table) + 1,
                          first_record_id=_max_id(conn, record_table) + 1)
        writer = _Writer(cursor, now, random.Random(seed + 1), _max_id(conn, resource_table) + 1)
        integration_ids = writer.integrations()
        for client in world:
            writer.client(client, integration_ids)
        writer.flush()
        derived.analyze(conn)  # settle's queries over the new rows, planned with their statistics
        writer.settle(integration_ids)
        runs, logs = writer.history(integration_ids)
        cursor.close()
        derived.finish_bulk_load(conn, integration_ids.values())
        # Kept so the demo integrations can be synced (the demo connector, same size and seed)
        # without a config: a newcomer presses `s` on the first-run store and sees a real sync.
        upsert(conn, meta_table, {"key": DEMO_META_KEY, "value": json.dumps({"resources": resources, "seed": seed})},
               keys=("key",))
    with store.connection() as conn:
        derived.vacuum_after_bulk_load(conn)
    return SeedSummary(len(integration_ids), world.clients, writer.records, writer.resources, runs, logs)


def _linked_on(keys: Keys, documented: Keys | None, *, shared_email: bool) -> str:
    """The key a demo link rests on: the strongest the resource shares with what the documentation
    holds of its record (a shared mailbox identifies no one), else its name."""
    if documented:
        for kind in _LINK_KEYS:
            if kind is KeyKind.EMAIL and shared_email:
                continue
            if keys.get(kind) & documented.get(kind):
                return kind.value
    return MatchedOn.NAME.value


class _Writer:
    """Accumulates rows and writes them in chunks through one DB-API cursor."""

    def __init__(self, cursor: RawCursor, now: datetime, rng: random.Random, first_resource_id: int) -> None:
        self.cursor = cursor
        self.now = now
        self.rng = rng
        self.next_resource_id = first_resource_id
        self.client_rows: list[tuple[object, ...]] = []
        self.record_rows: list[tuple[object, ...]] = []
        self.resource_rows: list[tuple[object, ...]] = []
        self.audit_rows: list[tuple[object, ...]] = []
        #: (resource or record id, kind, value): the normalised identity keys, as a sync stores them
        self.resource_key_rows: list[tuple[int, str, str]] = []
        self.record_key_rows: list[tuple[int, str, str]] = []
        #: what normalising refused of a Not Synced resource's keys (placeholders), for its reason
        self.refused: dict[int, tuple[str, ...]] = {}
        self.records = 0
        self.resources = 0
        #: a few resources per integration that sync logs talk about: (id, name, type, status, deleted)
        self.samples: dict[int, list[tuple[int, str, str, SyncStatus, bool]]] = {}
        self.last_sync = {name: now - timedelta(minutes=3 + 14 * i) for i, name in enumerate(INTEGRATIONS)}

    def integrations(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        for name, flavour in INTEGRATIONS.items():
            ids[name] = insert_id(self.cursor, "INSERT INTO integration (name, kind, created_at) VALUES (?, 'demo', ?)",
                                  (name, db_time(self.now - timedelta(days=_HISTORY_DAYS + 90))))
        return ids

    def client(self, client: DemoClient, integration_ids: dict[str, int]) -> None:
        self.client_rows.append((client.id, client.name, normalise_name(client.name)))
        created = db_time(self.now - timedelta(days=400))
        documented: dict[int, Keys] = {}
        for rec in client.records:
            self.record_rows.append((rec.id, rec.type.value, rec.client_id, rec.name, normalise_name(rec.name),
                                     rec.disabled, "{}", created, created))
            if rec.keys:  # the serial, MAC or e-mail the documentation holds: the record's own keys
                keys = documented[rec.id] = _IDENTITY.normalise(rec.keys, rec.type, rec.name).keys
                self.record_key_rows.extend((rec.id, kind, value) for kind, value in keys.pairs())
        for res in client.resources:
            self._resource(res, integration_ids[res.integration], documented)
        if len(self.resource_rows) >= _CHUNK or len(self.record_rows) >= _CHUNK:
            self.flush()

    def _resource(self, res: DemoResource, integration_id: int, documented: dict[int, Keys]) -> None:
        rid = self.next_resource_id
        self.next_resource_id += 1
        rng = self.rng
        last_seen = self.last_sync[res.integration] - timedelta(seconds=res.stale_for)
        first_seen = last_seen - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1439))
        version, updated_by, updated_at = 1, None, None
        if res.status is SyncStatus.EXCLUDED:
            # Exclusions are operators' decisions: give each its audit event.
            version, updated_by = 2, _OPERATORS[rid % len(_OPERATORS)]
            updated_at = last_seen - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 1439))
            self.audit_rows.append((
                f"seed{rid}", db_time(updated_at), updated_by, "exclude", integration_id, rid,
                json.dumps({"client_id": res.client_id, "record_id": None, "status": "not_synced", "version": 1}),
                json.dumps({"client_id": res.client_id, "record_id": None, "status": "excluded", "version": 2}),
            ))
        payload = json.dumps({"id": res.external_id, **res.payload}, separators=(",", ":"))
        name_norm = normalise_name(res.name)
        matched_on = reason = reason_kind = None
        # The keys exactly as a sync of the demo connector normalises and stores them.
        found = _IDENTITY.normalise(res.keys, res.type, res.name, name_norm)
        self.resource_key_rows.extend((rid, kind, value) for kind, value in found.keys.pairs())
        if res.status is SyncStatus.MATCHED:
            matched_on = _linked_on(found.keys, documented.get(res.record_id or 0), shared_email=res.story == "mailbox")
        elif res.status is SyncStatus.NOT_SYNCED:
            # A live one's reason comes from the rules once every row is in (settle): a value's
            # sharing and the records' keys depend on the rows of every client.
            if found.refused:
                self.refused[rid] = found.refused
            if res.deleted_remotely:  # never fetched again, so never decided again: the plain reason
                outcome = decide(MatchInput(res.type, res.client_id, name_norm, res.status, None), Records(),
                                 create_missing=False)
                reason, reason_kind = outcome.reason, outcome.kind.value if outcome.kind else None
        self.resource_rows.append((
            rid, integration_id, res.type.value, res.external_id, res.name, name_norm,
            res.remote_company, res.client_id, payload, res.status.value, res.record_id,
            db_time(first_seen), db_time(last_seen), res.deleted_remotely, version,
            db_time(updated_at) if updated_at else None, updated_by, matched_on, reason, reason_kind,
        ))
        self.resources += 1
        samples = self.samples.setdefault(integration_id, [])
        if len(samples) < 400 and (res.status is not SyncStatus.MATCHED or res.deleted_remotely or rng.random() < 0.01):
            samples.append((rid, res.name, res.type.value, res.status, res.deleted_remotely))

    def flush(self) -> None:
        cursor = self.cursor
        insert_rows(cursor, "client", NEW_CLIENT_COLUMNS, self.client_rows)
        insert_rows(cursor, "record", NEW_RECORD_COLUMNS, self.record_rows)
        insert_rows(cursor, "resource", (
            "id", "integration_id", "type", "external_id", "name", "name_norm", "remote_company", "client_id",
            "payload", "status", "record_id", "first_seen", "last_seen", "deleted_remotely", "version",
            "updated_at", "updated_by", "matched_on", "reason", "reason_kind"), self.resource_rows)
        insert_rows(cursor, "audit_event", ("batch", "time", "operator", "action", "integration_id", "resource_id",
                                            "before", "after"), self.audit_rows)
        insert_rows(cursor, "resource_key", ("resource_id", "kind", "value"), self.resource_key_rows)
        insert_rows(cursor, "record_key", ("record_id", "kind", "value"), self.record_key_rows)
        self.records += len(self.record_rows)
        for rows in (self.client_rows, self.record_rows, self.resource_rows, self.audit_rows,
                     self.resource_key_rows, self.record_key_rows):
            rows.clear()

    def settle(self, integration_ids: dict[str, int]) -> None:
        """Give each live Not Synced resource the reason the rules give it, as a sync would:
        its keys less the values several items carry, against the records with its keys or
        name. One the rules would link (none, by the world's design) is linked, so that
        syncing the seeded demo finds nothing to change either way."""
        cursor = self.cursor
        for integration_id in integration_ids.values():
            last = 0
            while True:
                rows = cursor.execute(
                    "SELECT id, type, client_id, name, name_norm FROM resource WHERE integration_id = ? AND id > ?"
                    " AND status = 'not_synced' AND deleted_remotely = 0 ORDER BY id LIMIT ?",
                    (integration_id, last, _SETTLE_PAGE)).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                stored: dict[int, list[tuple[str, str]]] = {}
                for rid, kind, value in cursor.execute(
                        "SELECT resource_id, kind, value FROM resource_key WHERE resource_id IN"
                        " (SELECT value FROM json_each(?))", (json.dumps([row[0] for row in rows]),)):
                    stored.setdefault(rid, []).append((kind, value))
                inputs = [MatchInput(ResourceType(type_), client_id, name_norm, SyncStatus.NOT_SYNCED, None,
                                     Keys.from_pairs(stored.get(rid, ())), self.refused.get(rid, ()), name)
                          for rid, type_, client_id, name, name_norm in rows]
                shared = shared_values(cursor, integration_id, [(row[0], inp.keys) for row, inp in zip(rows, inputs)])
                if shared:
                    for number, inp in enumerate(inputs):
                        keys, notes = without_shared(inp.keys, shared)
                        if notes:
                            inputs[number] = MatchInput(inp.type, inp.client_id, inp.name_norm, inp.status, None,
                                                        keys, inp.notes + notes, inp.name)
                records = load_records(cursor, integration_id, inputs)
                reasons: list[tuple[str, str | None, int]] = []
                links: list[tuple[int | None, int, str | None, int]] = []
                for row, inp in zip(rows, inputs):
                    outcome = decide(inp, records, create_missing=False)
                    if outcome.decision is Decision.LINK and outcome.record_id is not None:
                        links.append((records.info[outcome.record_id].client_id, outcome.record_id,
                                      outcome.matched_on.value if outcome.matched_on else None, row[0]))
                    else:
                        reasons.append((outcome.reason, outcome.kind.value if outcome.kind else None, row[0]))
                cursor.executemany("UPDATE resource SET reason = ?, reason_kind = ? WHERE id = ?", reasons)
                cursor.executemany("UPDATE resource SET status = 'matched', client_id = ?, record_id = ?,"
                                   " matched_on = ? WHERE id = ?", links)

    def history(self, integration_ids: dict[str, int]) -> tuple[int, int]:
        """Sync runs every few hours over the past weeks, with their log entries."""
        runs = logs = 0
        for name, integration_id in integration_ids.items():
            # The counts a run reports after it, as the tiles count them (queries.Totals): the live
            # resources by status, the removed-remotely ones apart.
            counts = dict(self.cursor.execute(
                "SELECT status, count(*) FROM resource WHERE integration_id = ? AND deleted_remotely = 0"
                " GROUP BY status", (integration_id,)).fetchall())
            removed_total = self.cursor.execute(
                "SELECT count(*) FROM resource WHERE integration_id = ? AND deleted_remotely = 1",
                (integration_id,)).fetchone()[0]
            total = sum(counts.values())
            samples = self.samples.get(integration_id, [])
            sample_iter = iter(samples * 2)
            end = self.last_sync[name]
            for step in range(_HISTORY_DAYS * 24 // _SYNC_EVERY_H):
                ended = end - timedelta(hours=_SYNC_EVERY_H * step)
                started = ended - timedelta(seconds=40 + self.rng.randint(0, 200))
                outcome, message = "success", None
                if step in (9, 57):
                    outcome, message = "failed", f"authentication failed for {name}: the API answered 401 Unauthorized"
                elif step == 23:
                    outcome, message = "partial", f"{name}: connection reset by peer after 3 pages; resumed next run"
                fetched = 0 if outcome == "failed" else total - step // 4
                sampled = [] if outcome == "failed" else list(islice(sample_iter, 3))
                # The run's removals are the ones it logs, so its count and its list agree.
                removed = sum(1 for *_, deleted in sampled if deleted)
                run_id = self._run(integration_id, started, ended, outcome, fetched, counts, removed, message)
                runs += 1
                entries: list[tuple[datetime, str, str, int | None]] = [
                    (started, "info", f"sync of {name} started", None)]
                if outcome == "failed" and message is not None:
                    entries.append((ended, "error", message, None))
                else:
                    for rid, rname, rtype, status, deleted in sampled:
                        if deleted:
                            entries.append((ended, "warning", f"{rtype} {rname!r} was removed remotely", rid))
                        elif status is SyncStatus.NOT_SYNCED:
                            entries.append((ended, "warning",
                                            f"{rtype} {rname!r} not synced: no unlinked {rtype} record of that name",
                                            rid))
                        elif status is SyncStatus.EXCLUDED:
                            entries.append((ended, "info", f"{rtype} {rname!r} skipped: excluded by an operator", rid))
                        else:
                            entries.append((ended, "info", f"{rtype} {rname!r} matched to its record", rid))
                    if outcome == "partial" and message is not None:
                        entries.append((ended, "error", message, None))
                    run_counts = SyncCounts(
                        fetched=fetched, removed=removed, matched=counts.get("matched", 0),
                        not_synced=counts.get("not_synced", 0), excluded=counts.get("excluded", 0),
                        removed_total=removed_total,
                        linked=sum(1 for _r, _n, _t, st, d in sampled if st is SyncStatus.MATCHED and not d))
                    entries.append((ended, "info", f"sync of {name} finished: {fetched:,} fetched, "
                                    f"{run_counts.changes()}; now {run_counts.standing()}", None))
                insert_rows(self.cursor, "sync_log_entry",
                            ("integration_id", "sync_run_id", "time", "level", "message", "resource_id"),
                            [(integration_id, run_id, db_time(t), level, text, rid) for t, level, text, rid in entries])
                logs += len(entries)
        return runs, logs

    def _run(self, integration_id: int, started: datetime, ended: datetime, outcome: str, fetched: int,
             counts: dict[str, int], removed: int, message: str | None) -> int:
        return insert_id(
            self.cursor,
            "INSERT INTO syncrun (integration_id, started_at, ended_at, outcome, fetched, created, matched,"
            " not_synced, removed, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (integration_id, db_time(started), db_time(ended), outcome, fetched, 0,
             counts.get("matched", 0) if fetched else 0, counts.get("not_synced", 0) if fetched else 0,
             removed, message))
