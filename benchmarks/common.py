"""What the benchmark scripts share: cached demo stores, a headless app with a paint probe,
timing statistics and the printed tables.

Stores are seeded once per size with :func:`syncview.services.seed.seed_demo` into
``benchmarks/.cache/store-{N}.db`` (git-ignored) and reused while they still fit: the
schema version, the schema itself (every table, index and trigger a fresh store gets),
the demo data generator (``syncview.demo``) and :data:`SEED_REVISION` must all match what
they were built with, else the store is seeded again. Edits to ``services/seed.py`` that
do not change the rows it writes leave the cached stores valid; when one does change them,
bump :data:`SEED_REVISION`. Seeding a million resources takes a minute or two.

Everything here goes through syncview's public entry points (``open_store``,
``seed_demo``, ``SyncviewApp``, ``ResourceTable``'s ``render_line`` and its
``Counted`` message), so the scripts keep working while the store and the table change.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
#: The sizes the issue asks for; --quick leaves out the million.
SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 100_000)
#: The terminal the headless app runs in: a common SSH window, a bit larger than 80x24.
SCREEN = (120, 40)
#: Bump when services/seed.py changes the rows it writes (its source is not fingerprinted:
#: it is edited for unrelated reasons, and a million takes minutes to seed again).
SEED_REVISION = 2


def now() -> float:
    """Seconds on the system-wide monotonic clock: comparable between a parent and its children."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# -- stores -------------------------------------------------------------------------------


def _schema(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()


def _fingerprint() -> str:
    """What a store seeded now would be: schema version, schema DDL, the demo generator."""
    from syncview import demo
    from syncview.store import open_store
    from syncview.store.db import SCHEMA_VERSION

    with tempfile.TemporaryDirectory() as directory:
        open_store(Path(directory) / "empty.db").close()
        conn = sqlite3.connect(Path(directory) / "empty.db")
        schema = _schema(conn)
        conn.close()
    digest = hashlib.sha256()
    digest.update(json.dumps([SCHEMA_VERSION, SEED_REVISION, schema]).encode())
    digest.update(inspect.getsource(demo).encode())
    return digest.hexdigest()


def store_path(n: int) -> Path:
    return CACHE / f"store-{n}.db"


def seeded_store(n: int, *, quiet: bool = False) -> Path:
    """The path of a store holding the demo MSP with ``n`` resources, seeding it if needed."""
    path, stamp = store_path(n), CACHE / f"store-{n}.json"
    fingerprint = _fingerprint()
    if path.exists() and stamp.exists():
        try:
            if json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
                return path
        except ValueError:
            pass
    from syncview.services.seed import seed_demo
    from syncview.store import open_store

    CACHE.mkdir(exist_ok=True)
    building = path.with_name(path.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    if not quiet:
        print(f"seeding {n:,} resources into {path} (once; reused while the schema and seeder match) ...",
              file=sys.stderr, flush=True)
    began = time.perf_counter()
    store = open_store(building)
    summary = seed_demo(store, n)
    with store.write() as conn:  # fold the WAL into the file, so the file alone is the store
        pass
    store.close()
    conn = sqlite3.connect(building)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    building.replace(path)
    stamp.write_text(json.dumps({"fingerprint": fingerprint, "resources": summary.resources,
                                 "seconds": round(time.perf_counter() - began, 1)}))
    if not quiet:
        print(f"  seeded in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    return path


def first_integration(path: Path) -> int:
    """The id of the integration the overview opens on (the first by name)."""
    from syncview.services import queries
    from syncview.store import open_store

    store = open_store(path)
    try:
        return queries.list_integrations(store)[0].id
    finally:
        store.close()


# -- statistics and tables -----------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Summary of repeated timings, in seconds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """Nearest-rank 95th percentile: with fewer than 20 samples, the largest."""
        ordered = sorted(self.samples)
        return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]

    def ms(self) -> str:
        return f"{self.median * 1000:.1f} / {self.p95 * 1000:.1f}"


def repeat(action: Callable[[], object], times: int, *, warmup: int = 1) -> Stats:
    """Time ``action`` ``times`` times after ``warmup`` untimed runs."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return Stats(tuple(samples))


#: The PostgreSQL server the scripts that measure that engine make their scratch databases on.
PG_SERVER = os.environ.get("SYNCVIEW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_database(server: str = PG_SERVER, prefix: str = "syncview_bench") -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server ``server`` names (any of its
    databases), dropped when the block ends, whatever is still connected to it."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    admin_url = make_url(server).set(drivername="postgresql")
    admin = admin_url.render_as_string(hide_password=False)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None) -> None:
    """A plain text table, first column left-aligned, the others right-aligned."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    if title:
        print(f"\n{title}")
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def machine() -> str:
    """Python, CPU, cores and load: what a figure needs beside it on a shared machine."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {cpu}, "
            f"{os.cpu_count()} cores, load average {load}")


def size_arguments(description: str, *, default: Sequence[int] = QUICK_SIZES) -> argparse.ArgumentParser:
    """An argument parser with ``--sizes 1000,100000``; the default leaves out the slow million."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default=",".join(str(n) for n in default),
                        type=lambda text: [int(n.replace("_", "")) for n in text.split(",") if n],
                        help="resource counts, comma-separated (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (used by run.py)")
    return parser


def emit(figures: dict, as_json: bool) -> None:
    """Hand figures to run.py: one JSON line, prefixed so other output cannot be mistaken for it."""
    if as_json:
        print("FIGURES " + json.dumps(figures), flush=True)


# -- the headless app ----------------------------------------------------------------------


class PaintProbe:
    """Watches the Sync Status table paint: every call of ``ResourceTable.render_line``.

    A line counts as a *row* when it is neither the header, a placeholder ("…") nor a blank;
    "No resources match." counts as a row (an empty result is a finished paint). Each paint is
    stamped with the table's ``query_`` at that moment, so a paint of the old rows kept on
    screen while a new filter loads is not mistaken for the new result.
    """

    def __init__(self) -> None:
        from syncview.tui.widgets.resource_table import ResourceTable

        self.table: ResourceTable | None = None
        #: (time, y, scroll_y, query, is_row)
        self.lines: list[tuple[float, int, int, object, bool]] = []
        probe, original = self, ResourceTable.render_line

        def render_line(table, y):
            strip = original(table, y)
            if y > 0:
                text = strip.text.strip()
                probe.table = table
                probe.lines.append((now(), y, int(table.scroll_y), table.query_, text not in ("", "…")))
            return strip

        ResourceTable.render_line = render_line

    def mark(self) -> int:
        return len(self.lines)

    def first_row(self, since: int, *, query_is_not: object = None) -> float | None:
        """When the first row line was painted after ``since``, under a query other than ``query_is_not``."""
        for when, _, _, query, is_row in self.lines[since:]:
            if is_row and query is not None and query is not query_is_not:
                return when
        return None

    def full_frame(self, since: int, rows: int, *, scroll_y: int) -> float | None:
        """When, after ``since``, all ``rows`` data lines at ``scroll_y`` had been painted as rows
        with no placeholder painted at that position after them."""
        last: dict[int, tuple[float, bool]] = {}
        for when, y, top, _, is_row in self.lines[since:]:
            if top != scroll_y:
                continue
            last[y] = (when, is_row)
            if len(last) >= rows and all(last.get(line, (0, False))[1] for line in range(1, rows + 1)):
                return when
        return None


async def wait_for(condition: Callable[[], object], *, timeout: float = 30.0, what: str = "condition"):
    """Let the app run until ``condition()`` is truthy; return its value."""
    deadline = now() + timeout
    while True:
        value = condition()
        if value:
            return value
        if now() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.0005)


@dataclass
class Session:
    """A headless SyncviewApp over a store, its pilot, the table and what was seen of it."""

    app: object
    pilot: object
    probe: PaintProbe
    #: (time, shown, total) of every ResourceTable.Counted posted
    counts: list[tuple[float, int, int]]

    @property
    def table(self):
        from syncview.tui.widgets.resource_table import ResourceTable

        return self.app.screen.query_one(ResourceTable)

    def rows_in_view(self) -> int:
        return self.table.scrollable_content_region.height - 1


@asynccontextmanager
async def app_session(path: Path, *, size: tuple[int, int] = SCREEN):
    """Run SyncviewApp headless on the store at ``path`` until its table shows its first rows."""
    from syncview.store import open_store
    from syncview.tui.app import SyncviewApp
    from syncview.tui.widgets.resource_table import ResourceTable

    probe = PaintProbe()
    counts: list[tuple[float, int, int]] = []
    seen: list[object] = [None]

    def hook(message) -> None:
        # Called at every pump the message reaches: keep its first arrival only (it bubbles).
        if isinstance(message, ResourceTable.Counted) and message is not seen[0]:
            seen[0] = message
            counts.append((now(), message.shown, message.total))

    store = open_store(path)
    # A state directory of its own: the view a previous run (or the operator) left in
    # tui-state.json would otherwise open the screen on another client, type or status.
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="syncview-bench-state-")
    app = SyncviewApp(store)
    try:
        async with app.run_test(headless=True, size=size, message_hook=hook) as pilot:
            session = Session(app, pilot, probe, counts)
            await wait_for(lambda: probe.first_row(0), what="the first rows")
            await wait_for(lambda: counts, what="the first count")
            yield session
    finally:
        store.close()


async def timed_change(session, change: Callable[[], Awaitable[None] | None]) -> tuple[float, float]:
    """Seconds from ``change`` to the new rows painted and to the new count."""
    table, probe = session.table, session.probe
    old_query, mark, counts = table.query_, probe.mark(), len(session.counts)
    began = now()
    result = change()
    if result is not None:
        await result
    painted = await wait_for(lambda: probe.first_row(mark, query_is_not=old_query), what="the new rows")
    counted = await wait_for(lambda: session.counts[counts][0] if len(session.counts) > counts else None,
                             what="the new count")
    await session.pilot.pause()
    return painted - began, counted - began


async def largest_integration(session) -> None:
    """Switch the overview to the integration with the most resources."""
    from syncview.services import queries
    from textual.widgets import Select

    store = session.app.store
    sizes = {i.id: queries.integration_totals(store, i.id).total for i in queries.list_integrations(store)}
    select = session.app.screen.query_one("#integration", Select)
    largest = max(sizes, key=sizes.get)
    if select.value != largest:
        await timed_change(session, lambda: setattr(select, "value", largest))
