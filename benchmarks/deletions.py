"""What finding deletions on an incremental sync costs: the pass over live ids (issue 11).

    .venv/bin/python benchmarks/deletions.py                       # N = 1 000 and 100 000
    .venv/bin/python benchmarks/deletions.py --sizes 1000000       # a million

For each N it syncs N devices of one integration in full (the set-up, timed apart), then
runs an incremental sync that fetches nothing changed while the connector's
``live_ids()`` lists N - N/1000 ids in pages of 1 000, as ConnectWise and Autotask do:
the engine loads them into a temporary table and marks the missing 0.1 % removed.

It prints the incremental run's wall time and ids per second, and two memory figures:
the peak of Python's own allocations during the run (tracemalloc: what a Python set of
the ids would have shown) and the growth of the process's peak RSS, which also counts
SQLite's page cache for the temporary table (bounded by its cache size, not by N).
"""

from __future__ import annotations

import resource
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from common import emit, machine, size_arguments
from syncview.connectors.base import Connector, IdPage, Page
from syncview.domain import RemoteItem, ResourceType
from syncview.services.sync import sync_connector
from syncview.store import open_store

PAGE = 1_000


class Listing(Connector):
    """N devices; after the first run it fetches nothing and lists the ids still there."""

    kind = "bench"
    title = "Listing"
    supports_incremental = True
    supports_live_ids = True

    def __init__(self, n: int, *, gone_every: int = 0) -> None:
        super().__init__("Bench", {})
        self.n = n
        self.gone_every = gone_every

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        if since is not None:
            return
        for start in range(0, self.n, PAGE):
            yield Page([RemoteItem(ResourceType.DEVICE, str(i), f"PC-{i:07d}", None, {"id": i})
                        for i in range(start, min(self.n, start + PAGE))], "devices")

    def live_ids(self) -> Iterator[IdPage]:
        for start in range(0, self.n, PAGE):
            yield IdPage(ResourceType.DEVICE, [str(i) for i in range(start, min(self.n, start + PAGE))
                                               if not (self.gone_every and i % self.gone_every == 0)])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n: int, directory: Path) -> dict:
    store = open_store(directory / f"deletions-{n}.db")
    try:
        began = time.perf_counter()
        sync_connector(store, Listing(n))
        setup = time.perf_counter() - began
        rss_before = rss_mb()
        tracemalloc.start()
        began = time.perf_counter()
        report = sync_connector(store, Listing(n, gone_every=1000))
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert not report.full and report.counts.removed == -(-n // 1000), report.counts
        return {"n": n, "setup_s": round(setup, 2), "incremental_s": round(seconds, 3),
                "ids_per_s": round(n / seconds), "removed": report.counts.removed,
                "python_peak_mb": round(peak / 2**20, 1), "rss_growth_mb": round(rss_mb() - rss_before, 1)}
    finally:
        store.close()


def main() -> None:
    args = size_arguments(__doc__.splitlines()[0]).parse_args()
    print(machine())
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            row = measure(n, Path(tmp))
            figures.append(row)
            print(f"deletions N={n:>9,}: incremental run with the id pass {row['incremental_s']:.2f} s "
                  f"({row['ids_per_s']:,} ids/s), {row['removed']:,} removed; Python peak "
                  f"{row['python_peak_mb']} MB, peak RSS growth {row['rss_growth_mb']} MB "
                  f"(full sync set-up {row['setup_s']} s)", flush=True)
    emit({"deletions": figures}, args.json)


if __name__ == "__main__":
    main()
