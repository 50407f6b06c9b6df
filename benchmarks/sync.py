"""How fast a sync runs against a distant product, next to the floor its documented limits set (issue 12).

    .venv/bin/python benchmarks/sync.py                                   # every connector, 10k items, 0.1/0.3/1 s
    .venv/bin/python benchmarks/sync.py --connectors datto_rmm --sizes 100000 --latencies 0.3
    .venv/bin/python benchmarks/sync.py --out runs.jsonl                   # append each figure as a JSON line

For each connector, N remote items and a per-request latency it serves the project's fake
product (tests/connectors/fakes/) on a loopback socket from a process of its own, every
answer delayed by the latency, and runs a full sync into a fresh SQLite store (``--pg``: a scratch
PostgreSQL database), then an incremental one (Datto RMM
and HaloPSA cannot fetch only what changed: their incremental run is a second full one).
It prints each run's wall time, the requests the fake saw, the most it saw in flight at
once and within one rolling window of its limit, any breach of the documented limits, and
the floor those limits set:

    floor = max(requests / allowed rate, latency x requests / allowed concurrency)

(per endpoint for Autotask, whose concurrency limit is per endpoint). ConnectWise and
HaloPSA document no limit, only 429 with Retry-After: their floor uses syncview's default
concurrency for them (connectors/limits.py), which is the bound an operator would change.

The remote items are split as the fakes build them, about: Datto RMM N/10 sites (each a
client and a site) with 8 live devices each; Autotask N/10 companies with a location, 6
devices and 2 active contacts each; ConnectWise N/20 companies with 2 sites, 15
configurations and 2 contacts each; HaloPSA N/10 clients with a site, 6 assets and 2 users.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import PG_SERVER, machine, print_table, scratch_database  # noqa: E402
from syncview.connectors.autotask import AutotaskConnector  # noqa: E402
from syncview.connectors.base import Connector  # noqa: E402
from syncview.connectors.connectwise import ConnectWiseConnector  # noqa: E402
from syncview.connectors.datto_rmm import DattoRmmConnector  # noqa: E402
from syncview.connectors.halopsa import HaloPsaConnector  # noqa: E402
from syncview.services.sync import sync_connector  # noqa: E402
from syncview.store import open_store  # noqa: E402
from tests.connectors.fakes.autotask import FakeAutotask  # noqa: E402
from tests.connectors.fakes.connectwise import FakeConnectWise  # noqa: E402
from tests.connectors.fakes.datto_rmm import FakeDattoRmm  # noqa: E402
from tests.connectors.fakes.halopsa import FakeHaloPsa  # noqa: E402
from tests.connectors.fakes.wsgi import FakeServer, Limits  # noqa: E402

try:  # the defaults syncview applies where a vendor documents no limit (after issue 12)
    from syncview.connectors.limits import DEFAULT_LIMITS
except ImportError:  # before it: one request at a time
    DEFAULT_LIMITS = {}


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Metered:
    """The fake behind two paths of the benchmark's own: ``/__meter__`` (what it saw, as JSON)
    and ``/__reset__`` (forget it), so that it can run in a process of its own."""

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        fake = self.fake
        if path == "/__reset__":
            fake.requests.clear()
            fake.meter = type(fake.meter)(fake.limits)
            fake.latency = float(environ.get("QUERY_STRING", "latency=0").partition("=")[2] or 0)
            body = b"{}"
        elif path == "/__meter__":
            meter = fake.meter
            body = json.dumps({
                "requests": len(fake.requests), "endpoints": Counter(fake.endpoint(r) for r in fake.requests),
                "most_in_flight": meter.most_in_flight, "most_per_endpoint": meter.most_per_endpoint,
                "most_in_window": meter.most_in_window, "breaches": len(meter.violations)}).encode()
        else:
            return fake(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def serve(app: FakeServer) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` on loopback from a process of its own (the fake's work, JSON and all, must
    not take the syncing process's interpreter lock); its base URL and a function that stops it."""
    server = make_server("127.0.0.1", 0, _Metered(app), server_class=_Server, handler_class=_Quiet)
    server.request_queue_size = 64
    child = os.fork()
    if child == 0:  # the server's process
        try:
            server.serve_forever(poll_interval=0.05)
        finally:
            os._exit(0)
    server.server_close()

    def stop() -> None:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)

    return f"http://127.0.0.1:{server.server_port}", stop


def _ask(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.load(answer)


@dataclass(frozen=True)
class Case:
    kind: str
    build: Callable[[int], FakeServer]
    connect: Callable[[FakeServer, str], Connector]
    #: the limits the floor is computed from: the vendor's documented ones
    documented: Limits


def _concurrency(kind: str, fallback: int = 1) -> int:
    limits = DEFAULT_LIMITS.get(kind)
    return limits.concurrency if limits is not None and limits.concurrency else fallback


CASES = {
    "datto_rmm": Case(
        "datto_rmm", lambda n: FakeDattoRmm(sites=max(1, n // 10), devices_per_site=9),
        lambda fake, url: DattoRmmConnector("Datto RMM", {"api_url": url, "api_key": fake.api_key,
                                                          "api_secret": fake.api_secret}),
        FakeDattoRmm.limits),
    "autotask": Case(
        "autotask", lambda n: FakeAutotask(companies=max(1, n // 10), locations_per_company=1,
                                           devices_per_company=6, contacts_per_company=3),
        lambda fake, url: AutotaskConnector("Autotask", {"username": fake.username,
                                                         "integration_code": fake.integration_code,
                                                         "secret": fake.secret, "zone_url": f"{url}/ATServicesRest/"}),
        FakeAutotask.limits),
    "connectwise": Case(
        "connectwise", lambda n: FakeConnectWise(companies=max(1, n // 20), configurations_per_company=15,
                                                 contacts_per_company=2),
        lambda fake, url: ConnectWiseConnector("ConnectWise", {
            "site": url, "company_id": fake.company_id, "public_key": fake.public_key,
            "private_key": fake.private_key, "client_id": fake.client_id}),
        Limits()),
    # ConnectWise with incremental_sites = "changed": an incremental sync lists the sites of the
    # companies changed since the last one alone (none here), not one request per company.
    "connectwise_changed_sites": Case(
        "connectwise", lambda n: FakeConnectWise(companies=max(1, n // 20), configurations_per_company=15,
                                                 contacts_per_company=2),
        lambda fake, url: ConnectWiseConnector("ConnectWise", {
            "site": url, "company_id": fake.company_id, "public_key": fake.public_key,
            "private_key": fake.private_key, "client_id": fake.client_id, "incremental_sites": "changed"}),
        Limits()),
    "halopsa": Case(
        "halopsa", lambda n: FakeHaloPsa(clients=max(1, n // 10), assets_per_client=6, users_per_client=2),
        lambda fake, url: HaloPsaConnector("HaloPSA", {"resource_server": f"{url}/api", "client_id": fake.client_id,
                                                       "client_secret": fake.client_secret, "tenant": fake.tenant}),
        Limits()),
}


def floor(case: Case, latency: float, seen: dict[str, Any]) -> float:
    """The least time the documented limits allow for these requests (see the module doc)."""
    limits, requests = case.documented, seen["requests"]
    by_rate = requests / (limits.rate / limits.window) if limits.rate else 0.0
    concurrency = limits.concurrency or _concurrency(case.kind)
    if limits.per_endpoint:
        by_latency = max(latency * count / concurrency for count in seen["endpoints"].values())
    else:
        by_latency = latency * requests / concurrency
    return max(by_rate, by_latency)


#: When each connector kind's last run in this process ended (see :func:`_fresh_window`).
_ENDED: dict[str, float] = {}


def _fresh_window(kind: str) -> None:
    """Wait until the requests of this kind's previous run have left the product's rolling
    window, so that each run starts with the budget a scheduled sync starts with. The limiter
    is one per integration in the process and keeps counting them (as the vendor does): back to
    back, a run would wait for the last one's requests, which its floor does not count. Only for
    a rate counted over minutes (Datto RMM); an hour's (Autotask's 4,800) is never reached here."""
    from syncview.connectors.limits import DEFAULT_LIMITS

    limits = DEFAULT_LIMITS.get(CASES[kind].kind)
    ended = _ENDED.get(kind)
    if limits is None or limits.rate is None or limits.window > 300 or ended is None:
        return
    time.sleep(max(0.0, ended + limits.window + 1.0 - time.perf_counter()))


def run(kind: str, n: int, latency: float, *, shared: bool = False, pg: str | None = None) -> list[dict[str, Any]]:
    """A full then an incremental sync of ``kind`` at ``n`` items and ``latency``; one figure each,
    each run starting with a fresh rate window (:func:`_fresh_window`). ``shared``: the limits
    leased from the store, as ``syncview sync`` does (else the process's own); each figure then
    counts the store transactions the leases cost (``lease_transactions``) and the leases taken.
    ``pg``: a PostgreSQL server to sync into a scratch database of (else a SQLite file)."""
    from syncview.connectors.http.connector import HttpConnector
    from syncview.store.leases import StoreBudget

    case = CASES[kind]
    fake = case.build(n)
    fake.static = True  # its records stand still: it works out each list once, not per page
    url, stop = serve(fake)
    figures = []
    try:
        with ExitStack() as scratch:
            folder = scratch.enter_context(tempfile.TemporaryDirectory())
            store = open_store(scratch.enter_context(scratch_database(pg)) if pg else Path(folder) / "bench.db")
            budget = StoreBudget(store)
            for mode in ("full", "incremental"):
                _ask(f"{url}/__reset__?latency={latency}")
                _fresh_window(kind)
                transactions = budget.transactions
                began, cpu = time.perf_counter(), time.process_time()
                with case.connect(fake, url) as connector:
                    if shared:
                        assert isinstance(connector, HttpConnector)
                        connector.share_limits(budget)
                    leases = getattr(connector.http.limiter, "leases_taken", 0)
                    report = sync_connector(store, connector, full=mode == "full")
                    leases = getattr(connector.http.limiter, "leases_taken", 0) - leases
                wall, cpu = time.perf_counter() - began, time.process_time() - cpu
                _ENDED[kind] = time.perf_counter()
                seen = _ask(f"{url}/__meter__")
                least = floor(case, latency, seen)
                figures.append({
                    "connector": kind, "items": n, "latency": latency, "mode": mode,
                    "synced": report.counts.fetched, "wall": round(wall, 2), "cpu": round(cpu, 2),
                    "requests": seen["requests"],
                    "floor": round(least, 2), "ratio": round(wall / least, 2) if least else math.inf,
                    "most_in_flight": seen["most_in_flight"], "most_per_endpoint": seen["most_per_endpoint"],
                    "most_in_window": seen["most_in_window"], "breaches": seen["breaches"],
                    "load": round(os.getloadavg()[0], 1), "budget": "store" if shared else "process",
                    "store": "postgresql" if pg else "sqlite",
                    "lease_transactions": budget.transactions - transactions, "leases": leases,
                })
            store.close()
    finally:
        stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", nargs="+", default=[kind for kind in CASES if kind == CASES[kind].kind],
                        choices=list(CASES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000])
    parser.add_argument("--latencies", nargs="+", type=float, default=[0.1, 0.3, 1.0])
    parser.add_argument("--out", type=Path, help="append each figure to this file as a JSON line")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--shared", action="store_true",
                        help="lease the limits from the store, as `syncview sync` does (default: the process's own)")
    parser.add_argument("--pg", nargs="?", const=PG_SERVER, metavar="URL",
                        help=f"sync into a scratch database on this PostgreSQL server (default {PG_SERVER}) "
                             "instead of a SQLite file")
    args = parser.parse_args()
    figures = []
    for kind in args.connectors:
        for n in args.sizes:
            for latency in args.latencies:
                for figure in run(kind, n, latency, shared=args.shared, pg=args.pg):
                    figures.append(figure)
                    if args.out:
                        with args.out.open("a") as out:
                            out.write(json.dumps(figure) + "\n")
                    print(json.dumps(figure), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"machine": machine(), "figures": figures}, indent=2))
        return
    print_table(("connector", "store", "items", "latency", "run", "wall", "CPU", "requests", "floor", "x floor",
                 "in flight", "in window", "breaches", "load"),
                [(f["connector"], f["store"], f"{f['items']:,}", f"{f['latency']:g} s", f["mode"], f"{f['wall']:.1f} s",
                  f"{f['cpu']:.1f} s", f"{f['requests']:,}", f"{f['floor']:.1f} s", f"{f['ratio']:.2f}",
                  f["most_in_flight"],
                  f["most_in_window"], f["breaches"], f["load"]) for f in figures],
                title=f"Sync against the fakes ({machine()})")


if __name__ == "__main__":
    main()
