"""What sharing an integration's rate through the store costs a sync (issue 12): before / after.

    .venv/bin/python benchmarks/shared_limits.py                       # Datto RMM, 10k items, 0.1 s
    .venv/bin/python benchmarks/shared_limits.py --connector autotask --items 10000 --latency 0.1 --rounds 2

The same full then incremental sync as benchmarks/sync.py (its ``run``, with ``shared`` on and
off), run alternately with the limiter's budget of the process's own ("process", as before
the leases) and leased from the store ("store", what `syncview sync` does now), ``--rounds``
times each so that a change in the machine's load falls on both. Per run: wall time, requests
the fake saw, the floor, the store transactions the leases cost (rate and room in flight,
taken, renewed and given back), the most in a window and in flight.

``--lease-cost URL...`` instead times one lease transaction (take, then settle) on each store
named (an SQLite file path, or the URL of an empty PostgreSQL database of the benchmark's own),
``--cycles`` times: what each block of slots costs a sync.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sync as bench  # noqa: E402  (benchmarks/sync.py: its cases, server and floor)
from common import machine, print_table  # noqa: E402

from syncview.connectors.limits import Settlement  # noqa: E402
from syncview.store import open_store  # noqa: E402
from syncview.store.leases import StoreBudget  # noqa: E402


def lease_cost(location: str, cycles: int) -> dict[str, Any]:
    """Milliseconds per lease taken and per settlement on the store at ``location`` (median of ``cycles``)."""
    store = open_store(location)
    try:
        budget = StoreBudget(store)
        takes, settles = [], []
        for _ in range(cycles):
            began = time.perf_counter()
            grant = budget.take("Bench", rate=1_000_000, want=10, lasts=60.0)
            takes.append(time.perf_counter() - began)
            began = time.perf_counter()
            budget.settle("Bench", [Settlement(grant.lease, 10, 0.0)])
            settles.append(time.perf_counter() - began)
        return {"store": store.engine_name, "cycles": cycles, "take_ms": round(statistics.median(takes) * 1000, 2),
                "settle_ms": round(statistics.median(settles) * 1000, 2), "load": round(os.getloadavg()[0], 1)}
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connector", default="datto_rmm", choices=list(bench.CASES))
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--lease-cost", nargs="+", metavar="STORE", help="time lease transactions on these stores")
    parser.add_argument("--cycles", type=int, default=200)
    args = parser.parse_args()
    if args.lease_cost:
        costs = [lease_cost(location, args.cycles) for location in args.lease_cost]
        print_table(("store", "cycles", "take (median)", "settle (median)", "load"),
                    [(c["store"], c["cycles"], f"{c['take_ms']:.2f} ms", f"{c['settle_ms']:.2f} ms", c["load"])
                     for c in costs], title=f"One lease transaction ({machine()})")
        return
    figures = []
    for _ in range(args.rounds):
        for shared in (False, True):
            for figure in bench.run(args.connector, args.items, args.latency, shared=shared):
                figures.append(figure)
                print(json.dumps(figure), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"machine": machine(), "figures": figures}, indent=2))
        return
    print_table(("connector", "items", "latency", "run", "budget", "wall", "requests", "x floor", "lease txns",
                 "in window", "in flight", "breaches", "load"),
                [(f["connector"], f"{f['items']:,}", f"{f['latency']:g} s", f["mode"], f["budget"],
                  f"{f['wall']:.1f} s", f"{f['requests']:,}", f"{f['ratio']:.2f}", f["lease_transactions"],
                  f["most_in_window"], f"{f['most_in_flight']} ({f['most_per_endpoint']} per endpoint)",
                  f["breaches"], f["load"]) for f in figures],
                title=f"A sync with the rate shared through the store ({machine()})")


if __name__ == "__main__":
    main()
