"""Live screens (issue 13 item 4): how soon another connection's commit reaches an open screen,
and what watching costs while nothing changes.

    .venv/bin/python benchmarks/live.py [--sizes 1000,100000] [--trials 20] [--pg postgresql://...]

- wake: from another connection's commit to the store's ChangeWatcher noticing it (SQLite:
  ``PRAGMA data_version`` polled every 0.2 s; PostgreSQL: LISTEN/NOTIFY), p50 / p95 / max.
- screen: from another connection's exclude (or include) of the row under the cursor to that
  row painted with its new status in a headless app, no key pressed (the issue's bound: 2 s).
- idle: CPU the watcher thread uses per second of an idle screen.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import machine, seeded_store, size_arguments


def _stats(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return f"p50 {statistics.median(values) * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms  max {values[-1] * 1000:6.0f} ms"


def wake(location: str, trials: int) -> list[float]:
    """Seconds from a commit on another connection to the watcher's wake, per trial."""
    from sqlalchemy import text

    from syncview.store import open_store
    from syncview.store.changes import watch

    store, other = open_store(location), open_store(location)
    watcher = watch(store)
    wakes: list[float] = []
    stop = threading.Event()

    def watching() -> None:  # as the screen's watcher thread does
        while not stop.is_set():
            if watcher.wait(0.25):
                wakes.append(time.monotonic())

    thread = threading.Thread(target=watching)
    thread.start()
    took: list[float] = []
    try:
        for trial in range(trials):
            time.sleep(0.3 + (trial % 7) * 0.031)  # commits land at every phase of the poll
            seen = len(wakes)
            with other.write() as conn:
                conn.execute(text("INSERT INTO meta (key, value) VALUES ('live-bench', '0')"))
                conn.execute(text("DELETE FROM meta WHERE key = 'live-bench'"))
            committed = time.monotonic()
            while len(wakes) == seen:
                time.sleep(0.001)
            took.append(max(0.0, wakes[seen] - committed))
    finally:
        stop.set()
        thread.join()
        watcher.close()
        store.close()
        other.close()
    return took


def idle_cpu(location: str, seconds: float = 10.0) -> float:
    """CPU seconds per second a watcher thread spends while nothing changes."""
    from syncview.store import open_store
    from syncview.store.changes import watch

    store = open_store(location)
    watcher = watch(store)
    stop = threading.Event()
    used: list[float] = []

    def loop() -> None:
        began = time.thread_time()
        while not stop.is_set():
            watcher.wait(0.25)
        used.append(time.thread_time() - began)

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    watcher.close()
    store.close()
    return used[0] / seconds


async def _screen(location: str, trials: int) -> list[float]:
    from syncview.domain import SyncStatus
    from syncview.services import actions
    from syncview.store import open_store
    from syncview.tui.app import SyncviewApp
    from syncview.tui.widgets.resource_table import ResourceTable

    store, other = open_store(location), open_store(location)
    app = SyncviewApp(store, operator="bench")
    took: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.screen.query_one(ResourceTable)
            while table.current_row is None:
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            for _ in range(trials):
                row = table.current_row
                assert row is not None
                if row.status is SyncStatus.EXCLUDED:
                    actions.include(other, row.id, operator="other")
                else:
                    actions.exclude(other, row.id, operator="other")
                committed = time.monotonic()

                def shown() -> bool:
                    line = table.render_line(1 + table.cursor - int(table.scroll_y)).text
                    return (" Excluded " in line) is not (row.status is SyncStatus.EXCLUDED)

                while not shown():
                    await asyncio.sleep(0.01)
                    if time.monotonic() - committed > 10:
                        raise RuntimeError("the change never showed")
                took.append(time.monotonic() - committed)
                await pilot.pause(1.2)  # past the 1 s gap between two reads, as changes come in life
    finally:
        store.close()
        other.close()
    return took


def main() -> None:
    parser = size_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pg", default="", help="also measure on this PostgreSQL store (a database of its own)")
    args = parser.parse_args()
    print(machine())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
    work = Path(tempfile.mkdtemp(prefix="syncview-live-"))
    for n in args.sizes:
        path = str(work / f"store-{n}.db")  # a copy: the trials change rows the other scripts read
        shutil.copyfile(seeded_store(n), path)
        print(f"SQLite {n:>9,}  wake    {_stats(wake(path, args.trials))}")
        print(f"SQLite {n:>9,}  screen  {_stats(asyncio.run(_screen(path, max(5, args.trials // 2))))}")
    print(f"SQLite idle watcher: {idle_cpu(str(work / f'store-{args.sizes[0]}.db')) * 100:.2f} % of a core")
    shutil.rmtree(work)
    if args.pg:
        from syncview.services.seed import seed_demo
        from syncview.store import open_store

        seeded = open_store(args.pg)
        seed_demo(seeded, args.sizes[0])
        seeded.close()
        print(f"PostgreSQL {args.sizes[0]:>9,}  wake    {_stats(wake(args.pg, args.trials))}")
        print(f"PostgreSQL {args.sizes[0]:>9,}  screen  {_stats(asyncio.run(_screen(args.pg, max(5, args.trials // 2))))}")
        print(f"PostgreSQL idle watcher: {idle_cpu(args.pg) * 100:.2f} % of a core")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak RSS {usage.ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
