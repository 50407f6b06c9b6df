"""How fast the sync engine brings demo resources into a store, against raw SQLite.

    .venv/bin/python benchmarks/ingest.py                      # N = 1 000 and 100 000
    .venv/bin/python benchmarks/ingest.py --million            # and N = 1 000 000
    .venv/bin/python benchmarks/ingest.py --sizes 1000,1000000 # these N
    .venv/bin/python benchmarks/ingest.py -n 20000             # just this N

For each N (resources over both demo integrations) it reports resources per second for:

- connector    generating the demo pages alone (DemoWorld + RemoteItems, no store);
- initial      the engine writing them into an empty store (pages replayed from memory,
               so the figure is the engine's, not the demo generator's);
- documented   the same into a store that already holds the demo clients and records,
               so every resource goes through client resolution and the matching rules;
- unchanged    a re-sync of the same pages: nothing changes but ``last_seen``;
- end to end   the demo connectors generating and the engine writing, as ``syncview sync`` does;
- raw sqlite3  ``executemany`` of ready-made rows into the same table, pages of the same
               size, one transaction each: the ceiling this machine's SQLite sets for
               this schema (unique key, four indexes, count and FTS5 trigram triggers);
- raw, bare    the same into a table of the same columns with no index, trigger or key
               but the rowid: what SQLite and the disk alone cost (the issue's "raw
               executemany rate").

Each figure is given by wall clock and by CPU time of this process: on a machine
shared with other work the CPU figure is the steadier one; SQLite's waits for the
disk show only in the wall clock.

Stores live in a temporary directory on the same disk as the system's temp dir
(``--dir`` to choose another). Target (issue 5): initial and unchanged syncs at
≥ 200 000 resources/s; the raw rate is printed beside them as the ceiling.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from common import emit, machine, size_arguments
from syncview.connectors.base import Connector, Page
from syncview.connectors.demo import DemoConnector
from syncview.demo import INTEGRATIONS
from syncview.domain import normalise_name
from syncview.services.seed import seed_demo
from syncview.services.sync import payload_json, sync_connector
from syncview.store import Store, open_store
from syncview.store.db import db_time, utcnow


class Replay(Connector):
    """Yields pages fetched earlier, so timing measures the engine alone."""

    kind = "demo"
    title = "Replay"

    def __init__(self, integration: str, pages: list[Page]) -> None:
        super().__init__(integration, {})
        self.pages = pages

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        yield from self.pages


def demo_connectors(n: int) -> list[DemoConnector]:
    return [DemoConnector(name, {"flavour": flavour, "resources": n, "seed": 7})
            for name, flavour in INTEGRATIONS.items()]


def fresh_store(directory: Path, label: str) -> Store:
    path = directory / f"{label}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return open_store(path)


def timed(action) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``action``: on a shared machine the CPU time is the steadier."""
    began, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - began, time.process_time() - cpu


def sync_all(store: Store, connectors: list[Connector]) -> int:
    return sum(sync_connector(store, connector).counts.fetched for connector in connectors)


def raw_rate(directory: Path, pages: dict[str, list[Page]], *, bare: bool = False) -> tuple[float, float]:
    """Rows the engine would write, inserted with plain sqlite3 executemany, page by page.

    Into a fresh store's ``resource`` table (its unique key, four indexes, the count and name
    index triggers: what any writer pays), or with ``bare`` into the same columns with none
    of them (what SQLite and the disk alone cost).
    """
    label = "raw-bare" if bare else "raw"
    store = fresh_store(directory, label)
    store.close()
    conn = sqlite3.connect(directory / f"{label}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    if bare:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DROP TABLE resource")
        conn.execute("CREATE TABLE resource (id INTEGER PRIMARY KEY, integration_id INTEGER, type TEXT,"
                     " external_id TEXT, name TEXT, name_norm TEXT, remote_company TEXT, client_id INTEGER,"
                     " payload TEXT, status TEXT, record_id INTEGER, first_seen TEXT, last_seen TEXT,"
                     " deleted_remotely INTEGER, version INTEGER)")
    now = db_time(utcnow())
    batches, next_id = [], 1
    for integration_id, integration_pages in enumerate(pages.values(), start=1):
        conn.execute("INSERT INTO integration (id, name, kind, created_at) VALUES (?, ?, 'demo', ?)",
                     (integration_id, f"raw {integration_id}", now))
        for page in integration_pages:
            batch = []
            for item in page.items:
                batch.append((next_id, integration_id, item.type.value, item.external_id, item.name,
                              normalise_name(item.name), item.remote_company, None, payload_json(item.payload),
                              "not_synced", None, now, now, 0, 1))
                next_id += 1
            batches.append(batch)

    def insert() -> None:
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO resource (id, integration_id, type, external_id, name, name_norm, remote_company,"
                " client_id, payload, status, record_id, first_seen, last_seen, deleted_remotely, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            conn.execute("COMMIT")

    wall, cpu = timed(insert)
    conn.close()
    return (next_id - 1) / wall, (next_id - 1) / cpu


TARGET_PER_S = 200_000


def bench(n: int, directory: Path) -> dict[str, float]:
    """Print the rates for ``n`` resources; return them (wall clock, resources/s) by label."""
    print(f"\nN = {n:,} resources (both demo integrations)")
    pages: dict[str, list[Page]] = {}
    generate = timed(lambda: pages.update({c.integration: list(c.fetch()) for c in demo_connectors(n)}))
    fetched = sum(len(p.items) for ps in pages.values() for p in ps)
    replays = lambda: [Replay(name, ps) for name, ps in pages.items()]  # noqa: E731
    rates = {"connector (generation only)": generate}

    store = fresh_store(directory, "initial")
    rates["initial, empty store"] = timed(lambda: sync_all(store, replays()))
    rates["unchanged re-sync"] = timed(lambda: sync_all(store, replays()))
    store.close()

    store = fresh_store(directory, "documented")
    seed_demo(store, n)
    with store.write() as conn:  # keep the clients and records, forget what was synced
        conn.exec_driver_sql("DELETE FROM audit_event")
        conn.exec_driver_sql("DELETE FROM sync_log_entry")
        conn.exec_driver_sql("DELETE FROM syncrun")
        conn.exec_driver_sql("DELETE FROM resource")
    rates["initial, documented store"] = timed(lambda: sync_all(store, replays()))
    store.close()

    store = fresh_store(directory, "end_to_end")
    rates["end to end (demo connectors)"] = timed(lambda: sync_all(store, demo_connectors(n)))
    store.close()

    raw_wall, raw_cpu = raw_rate(directory, pages)
    bare_wall, bare_cpu = raw_rate(directory, pages, bare=True)
    print(f"  {'':<30} {'wall clock':>22}  {'CPU time':>22}")
    for label, (wall, cpu) in rates.items():
        wall_rate, cpu_rate = fetched / wall, fetched / cpu
        line = f"  {label:<30} {wall_rate:>12,.0f} /s"
        if label.startswith("connector"):
            print(f"{line} {'':<8}  {cpu_rate:>12,.0f} /s")
        else:
            print(f"{line} ({wall_rate / raw_wall:>4.0%} raw)  {cpu_rate:>12,.0f} /s ({cpu_rate / raw_cpu:>4.0%} raw)")
    print(f"  {'raw sqlite3 executemany':<30} {raw_wall:>12,.0f} /s {'':<8}  {raw_cpu:>12,.0f} /s")
    print(f"  {'raw executemany, bare table':<30} {bare_wall:>12,.0f} /s {'':<8}  {bare_cpu:>12,.0f} /s")
    figures = {label: fetched / wall for label, (wall, _) in rates.items()}
    figures["raw sqlite3 executemany"] = raw_wall
    figures["raw executemany, bare table"] = bare_wall
    return figures


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="resources (repeatable), instead of --sizes")
    parser.add_argument("--million", action="store_true", help="also N = 1 000 000 (takes minutes)")
    parser.add_argument("--dir", type=Path, help="where to put the stores (default: a temporary directory)")
    args = parser.parse_args()
    sizes = args.n or list(args.sizes)
    if args.million and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    print(machine())
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        figures = {n: bench(n, Path(directory)) for n in sizes}
    emit(figures, args.json)


if __name__ == "__main__":
    main()
