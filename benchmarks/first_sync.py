"""A first sync into an empty store, SQLite beside PostgreSQL: what a team's first day costs.

    .venv/bin/python benchmarks/first_sync.py --resources 60000 [--pg postgresql://postgres@127.0.0.1:5432/test]

Into an empty store on each engine (SQLite: a file in a temporary directory; PostgreSQL: a
database made for the run on the server ``--pg`` names, dropped at the end), the demo world of
``--resources`` is synced as two products would be: its PSA flavour first, creating the local
records (``create_missing``), then its RMM flavour, whose items link to them. Printed per sync:
wall time, this process's CPU time (the rest of the wall on PostgreSQL is the server's and the
round trips) and the resources it wrote.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import PG_SERVER, scratch_database  # noqa: E402


def first_syncs(location: str | Path, resources: int) -> list[tuple[str, float, float, int]]:
    from syncview.config import IntegrationConfig
    from syncview.services.sync import sync_integration
    from syncview.store import open_store

    store = open_store(location)
    figures = []
    try:
        for name, flavour, create in (("PSA", "psa", True), ("RMM", "rmm", False)):
            integration = IntegrationConfig(name, "demo", {"flavour": flavour, "resources": resources},
                                            create_missing=create)
            wall, cpu = time.perf_counter(), time.process_time()
            report = sync_integration(store, integration)
            figures.append((name, time.perf_counter() - wall, time.process_time() - cpu, report.counts.new))
    finally:
        store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=60_000)
    parser.add_argument("--pg", default=PG_SERVER, help="the PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    print("load average at the start", ", ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    rows: list[tuple[str, tuple[str, float, float, int]]] = []
    with tempfile.TemporaryDirectory() as directory:
        rows += [("sqlite", f) for f in first_syncs(Path(directory) / "first.db", args.resources)]
    with scratch_database(args.pg, "syncview_first") as url:
        rows += [("postgresql", f) for f in first_syncs(url, args.resources)]
    print(f"First syncs of the demo world of {args.resources:,} into an empty store; load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'engine':<12}{'sync':<6}{'wall':>10}{'cpu':>10}{'resources':>11}")
    for engine, (sync, wall, cpu, new) in rows:
        print(f"{engine:<12}{sync:<6}{wall:>9.1f}s{cpu:>9.1f}s{new:>11,}")


if __name__ == "__main__":
    main()
