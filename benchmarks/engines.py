"""SQLite beside PostgreSQL: the store's side of open, filter, tiles, scroll and ingest, one run.

    .venv/bin/python benchmarks/engines.py --sizes 10000,100000 [--pg postgresql://postgres@127.0.0.1:5432/test]

For each size, a demo store is seeded on each engine (SQLite: a file in a temporary directory;
PostgreSQL: a database made for the run on the server ``--pg`` names, dropped at the end), and
the same service calls the screen makes are timed on each, over the integration with the most
resources:

- ingest: ``seed_demo`` of N resources (the bulk insert path: executemany on SQLite, COPY and one
  recount of the kept counts on PostgreSQL, then its ANALYZE and VACUUM);
- open: ``open_store`` of the seeded store and the first page of 100 rows;
- filter: count and first page for a name fragment (``acme-ws``: the name index), a type, a
  status and a client, each from a cold connection of the pool (as a keystroke makes);
- tiles: integration totals and its clients (the kept counts);
- scroll: ten pages down from the top, then the last page and the first (end / home).

Figures are medians (and p95) of ``--rounds`` repetitions, in milliseconds. These are the
store's times, which the screen adds its painting to (the other scripts measure that on SQLite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import PG_SERVER, scratch_database  # noqa: E402


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:8.1f} / {p95 * 1000:7.1f}"


def _timed(call, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def measure(location, n: int, rounds: int) -> dict[str, list[float]]:
    from syncview.domain import ResourceType, SyncStatus
    from syncview.services import queries
    from syncview.services.seed import seed_demo
    from syncview.store import open_store

    figures: dict[str, list[float]] = {}
    store = open_store(location)
    started = time.perf_counter()
    seed_demo(store, n)
    figures["ingest: seed N resources (s)"] = [time.perf_counter() - started]
    store.close()

    integrations = []

    def open_first_page():
        opened = open_store(location)
        found = queries.list_integrations(opened)
        biggest = max(found, key=lambda i: queries.integration_totals(opened, i.id).total)
        queries.resource_page(opened, queries.ResourceFilter(biggest.id), limit=100)
        integrations[:] = [biggest.id]
        opened.close()

    figures["open: store + first page"] = _timed(open_first_page, rounds)
    store = open_store(location)
    integration = integrations[0]
    clients = queries.integration_clients(store, integration)
    filters = {
        "filter: text 'acme-ws'": queries.ResourceFilter(integration, text="acme-ws"),
        "filter: type device": queries.ResourceFilter(integration, type=ResourceType.DEVICE),
        "filter: status not synced": queries.ResourceFilter(integration, status=SyncStatus.NOT_SYNCED),
        "filter: a client": queries.ResourceFilter(integration, client_id=clients[0].id),
    }
    for name, flt in filters.items():
        figures[name + " (count + page)"] = _timed(
            lambda f=flt: (queries.count_resources(store, f), queries.resource_page(store, f, limit=100)), rounds)
    figures["tiles: totals + clients"] = _timed(
        lambda: (queries.integration_totals(store, integration), queries.integration_clients(store, integration)),
        rounds)
    everything = queries.ResourceFilter(integration)
    total = queries.count_resources(store, everything)
    figures["scroll: page down (per page)"] = [
        s / 10 for s in _timed(lambda: [queries.resource_page(store, everything, offset=i * 40, limit=40)
                                        for i in range(10)], rounds)]
    figures["scroll: end / home"] = _timed(
        lambda: (queries.resource_page(store, everything, offset=max(0, total - 40), limit=40),
                 queries.resource_page(store, everything, offset=0, limit=40)), rounds)
    store.close()
    return figures


def _progress(engine: str, n: int, figures: dict[str, list[float]]) -> None:
    """One line per engine and size as it finishes: a long run shows where it is."""
    seconds = figures["ingest: seed N resources (s)"][0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  {engine} {n:,}: seeded in {seconds:.1f} s ({n / seconds:,.0f} resources/s), measured; load {load}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pg", default=PG_SERVER, help="the PostgreSQL server to make scratch databases on")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("load average at the start", ", ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for n in sizes:
            results[("sqlite", n)] = measure(Path(directory) / f"store-{n}.db", n, args.rounds)
            _progress("sqlite", n, results[("sqlite", n)])
            with scratch_database(args.pg) as url:
                results[("postgresql", n)] = measure(url, n, args.rounds)
                _progress("postgresql", n, results[("postgresql", n)])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Store times, SQLite beside PostgreSQL (median / p95 ms; ingest in s), load average {load}")
    columns = [(engine, n) for n in sizes for engine in ("sqlite", "postgresql")]
    print(f"{'figure':<42}" + "".join(f"{engine[:6] + ' ' + format(n, ','):>20}" for engine, n in columns))
    for figure in results[columns[0]]:
        cells = []
        for key in columns:
            samples = results[key][figure]
            cells.append(f"{samples[0]:>17.1f} s " if figure.startswith("ingest") else f"{_ms(samples):>20}")
        print(f"{figure:<42}" + "".join(cells))


if __name__ == "__main__":
    main()
