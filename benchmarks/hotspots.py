"""Where the time goes: the SQL behind each figure, and a cProfile of the app's start.

    .venv/bin/python benchmarks/hotspots.py sql  --size 1000000   # each screen query: time and plan
    .venv/bin/python benchmarks/hotspots.py open --size 1000000   # cProfile, process start to first rows

``sql`` calls the services the screen calls (counts, pages, tiles) on the integration with
the most resources, captures each SQL statement SQLAlchemy sends (its
``before_cursor_execute`` event), and prints the median time of the call over a few
repeats with SQLite's ``EXPLAIN QUERY PLAN`` of its statement(s).

``open`` runs what open.py's child runs under cProfile (imports included) and prints the
functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
from collections.abc import Callable

from common import app_session, machine, repeat, seeded_store


def sql(n: int, repeats: int) -> None:
    from sqlalchemy import event

    from syncview.domain import SyncStatus
    from syncview.services import queries
    from syncview.services.queries import ResourceFilter
    from syncview.store import open_store

    store = open_store(seeded_store(n))
    integration = max((i.id for i in queries.list_integrations(store)),
                      key=lambda i: queries.integration_totals(store, i).total)
    total = queries.count_resources(store, ResourceFilter(integration))
    everything = ResourceFilter(integration)
    acme = ResourceFilter(integration, text="acme-ws")
    calls: dict[str, Callable[[], object]] = {
        "count, no filter": lambda: queries.count_resources(store, everything),
        "count, text 'acme-ws'": lambda: queries.count_resources(store, acme),
        "count, text 'a'": lambda: queries.count_resources(store, ResourceFilter(integration, text="a")),
        "count, status not synced": lambda: queries.count_resources(
            store, ResourceFilter(integration, status=SyncStatus.NOT_SYNCED)),
        "first page, by name": lambda: queries.resource_page(store, everything),
        "first page, text 'acme-ws'": lambda: queries.resource_page(store, acme),
        "middle page (offset total/2)": lambda: queries.resource_page(store, everything, offset=total // 2),
        "last page (offset total-100)": lambda: queries.resource_page(store, everything, offset=total - 100),
        "tiles: integration_totals": lambda: queries.integration_totals(store, integration),
        "tiles: integration_clients": lambda: queries.integration_clients(store, integration),
    }
    statements: list[tuple[str, tuple]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    print(machine())
    print(f"N = {n:,}; integration {integration} has {total:,} resources\n")
    for label, call in calls.items():
        event.listen(store.engine, "before_cursor_execute", capture)
        call()
        event.remove(store.engine, "before_cursor_execute", capture)
        seen, statements[:] = list(statements), []
        stats = repeat(call, repeats)
        print(f"{label}: {stats.ms()} ms (median / p95 of {repeats})")
        with store.read() as conn:
            for statement, parameters in seen:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
                for row in plan:
                    print(f"    {row[-1]}")
    store.close()


def open_profile(n: int, top: int) -> None:
    path = seeded_store(n)
    profiler = cProfile.Profile()
    profiler.enable()
    import syncview.tui.app  # noqa: F401

    async def run() -> None:
        async with app_session(path):
            pass

    asyncio.run(run())
    profiler.disable()
    print(machine())
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("sql", "open"))
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=40, help="functions shown by `open` (default %(default)s)")
    args = parser.parse_args()
    if args.what == "sql":
        sql(args.size, args.repeats)
    else:
        open_profile(args.size, args.top)


if __name__ == "__main__":
    main()
