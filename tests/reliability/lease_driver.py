"""One process sending requests through an integration's limiter, its rate leased from a store.

``python lease_driver.py STORE URL --requests N --rate R --window W --ready PATH --go PATH [--private] [--pause PATH]``
sends N GETs to ``URL`` on three threads, each inside a slot of a :class:`Limiter` of
``Limits(rate=R, window=W, concurrency=3)`` for the integration "Counted", whose rate is leased
from the store at STORE (a file or a PostgreSQL URL) unless ``--private``. It prints one JSON
line: the answers by status, the leases it took and the store transactions they cost. It writes
``--ready`` once set up and starts sending when ``--go`` appears (two start at one moment).
``--pause PATH``: after the first answer, write PATH and wait to be killed (a leaseholder that
dies holding its lease).

A test-only launcher: the two-process tests of the shared limiter run two of these at once.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from syncview.connectors.limits import Limiter, Limits
from syncview.store.db import open_store
from syncview.store.leases import StoreBudget

INTEGRATION = "Counted"
#: Seconds a request may take to arrive, as the limiter is told (``--deadline``; the fake
#: answers within a moment).
DEADLINE = 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--pause", type=Path)
    parser.add_argument("--deadline", type=float, default=DEADLINE)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--go", type=Path, required=True)
    args = parser.parse_args()
    faulthandler.dump_traceback_later(60, exit=True)  # a hang shows where, on stderr, and ends
    store = open_store(args.store)
    budget = None if args.private else StoreBudget(store)
    limiter = Limiter(Limits(rate=args.rate, window=args.window, concurrency=3), account=INTEGRATION,
                      budget=budget, deadline=args.deadline)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    remaining = iter(range(args.requests))
    client = httpx.Client(timeout=DEADLINE)

    def worker() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            with limiter.slot():
                status = client.get(f"{args.url}/ping").status_code
            with lock:
                statuses[status] += 1
            if args.pause is not None:
                args.pause.write_text("leased")
                time.sleep(3600)  # until killed, holding what it leased

    args.ready.write_text("ready")
    while not args.go.exists():
        time.sleep(0.01)
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    limiter.release()
    print(json.dumps({"statuses": {str(k): v for k, v in statuses.items()}, "leases": limiter.leases_taken,
                      "transactions": budget.transactions if budget else 0}))
    store.close()


if __name__ == "__main__":
    sys.exit(main())
