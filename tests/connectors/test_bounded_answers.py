"""Every answer is bounded: size (decoded, so a gzip bomb stops at the bound), time (the whole
request, not each read), and pages (a paging loop past the product's reported total).

Real HTTP on loopback; the pages run through the real sync engine into a real store.
"""

from __future__ import annotations

import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import datetime

import pytest

from syncview.connectors.base import Connector, Page
from syncview.connectors.http import HttpClient, RetryPolicy
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import ConnectorError
from syncview.services.sync import SyncError, sync_connector
from tests.helpers import rows

MiB = 1024 * 1024


def _gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    block = b"\0" * MiB
    return b"".join(packer.compress(block) for _ in range(size // MiB)) + packer.flush()


def client(url: str, **options) -> HttpClient:
    return HttpClient("Acme PSA", kind="testkind", base_url=url, retry=RetryPolicy(attempts=1), **options)


def test_a_gzip_bomb_is_refused_at_the_bound_without_inflating_it(serve):
    bomb = _gzip_of_zeros(256 * MiB)  # ~250 KB on the wire, 256 MB inflated
    assert len(bomb) < MiB

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "gzip"),
                                  ("Content-Length", str(len(bomb)))])
        return [bomb]

    http = client(serve(app), max_response_bytes=4 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(ConnectorError) as caught:
            http.get("/api/Client")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        "Acme PSA: GET /api/Client answered more than 4 MiB (max_response_bytes), so syncview stopped reading "
        "it; lower this integration's page size, or raise max_response_bytes if the product's pages really are "
        "that large")
    assert peak < 64 * MiB, f"{peak / MiB:.0f} MiB held while refusing it"


def test_an_answer_within_the_bound_is_read_whole(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"clients": [', b'{"id": 1}', b"]}"]

    assert client(serve(app), max_response_bytes=100).get_json("/api/Client") == {"clients": [{"id": 1}]}


def test_a_server_sending_a_byte_at_a_time_cannot_hold_a_request_past_its_deadline(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])

        def trickle() -> Iterator[bytes]:
            for _ in range(600):  # a minute, each byte well within the read timeout
                time.sleep(0.1)
                yield b" "
        return trickle()

    http = client(serve(app), timeout=5.0, request_deadline=1.0)
    began = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        http.get("/api/Client")
    assert time.monotonic() - began < 3.0
    assert str(caught.value) == (
        "Acme PSA: GET /api/Client did not finish within 1 s (request_deadline); the server answers too slowly: "
        "check the network and any proxy, or raise request_deadline")


class _LoopingProduct(Connector):
    """A product that reports 6 devices and then never stops offering pages of new ones."""

    kind = "looping"
    title = "Looping"

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        number = 0
        while True:
            items = [RemoteItem(ResourceType.DEVICE, str(number * 3 + n), f"DEV-{number * 3 + n}") for n in range(3)]
            yield Page(items, entity="devices", total=6)
            number += 1
            if number > 10_000:
                raise AssertionError("the engine never stopped the loop")


def test_a_paging_loop_far_past_the_reported_total_stops_the_sync_with_a_line(store):
    with pytest.raises(SyncError) as caught:
        sync_connector(store, _LoopingProduct("Loop", {"pages_beyond_total": 4}))
    assert str(caught.value.report.message) == (
        "Loop: the product reported 6 devices but still offers pages, 4 more after all 6 came; the sync stopped "
        "there (its paging loops): sync again later, or raise pages_beyond_total if the product's count lags "
        "(stopped after 6 pages; the next run completes it)")
    # The pages before the stop were written (6 reported + 4 beyond), then the run closed as partial.
    assert rows(store, "SELECT count(*) FROM resource")[0][0] == 18
    assert rows(store, "SELECT outcome FROM syncrun")[0][0] in ("partial", "failed")
