"""A small base for fake vendor servers written as plain WSGI apps.

A fake subclasses :class:`FakeServer` and implements :meth:`FakeServer.handle`.
The base records every request, and lets a test script faults ahead of the
normal answers (:meth:`FakeServer.fail`): a 429 with ``Retry-After``, a 500, a
truncated body... The same object runs in-process through :func:`transport`
(``httpx.WSGITransport``) or on a loopback socket (the ``serve`` fixture).
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import httpx


@dataclass
class Request:
    """What a fake needs to know about one request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    #: ``scheme://host[:port]`` as the client addressed the server, for absolute links.
    origin: str

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class _Fault:
    response: Response
    matches: Callable[[Request], bool]
    times: int


@dataclass(frozen=True)
class Limits:
    """A product's documented limits, as a fake enforces them: beyond them it answers 429."""

    #: Requests allowed in any rolling ``window`` seconds; None: no documented rate.
    rate: int | None = None
    window: float = 60.0
    #: Requests in flight at once (per endpoint when ``per_endpoint``); None: no documented bound.
    concurrency: int | None = None
    per_endpoint: bool = False


class Meter:
    """Counts what a fake sees: requests in flight (overall and per endpoint), requests in any
    rolling window, and every breach of its :class:`Limits` (tests assert there is none)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque()
        self._in_flight: dict[str, int] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        #: the most requests in flight at once on one endpoint
        self.most_per_endpoint = 0
        #: the most requests that arrived within one rolling window
        self.most_in_window = 0
        self.violations: list[str] = []

    def enter(self, endpoint: str) -> str | None:
        """Count a request in; the breach it makes, if any (the fake then answers 429)."""
        limits, now = self.limits, time.monotonic()
        with self._lock:
            arrivals = self._arrivals
            arrivals.append(now)
            while arrivals and arrivals[0] <= now - limits.window:
                arrivals.popleft()
            self.most_in_window = max(self.most_in_window, len(arrivals))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            here = self._in_flight[endpoint] = self._in_flight.get(endpoint, 0) + 1
            self.most_per_endpoint = max(self.most_per_endpoint, here)
            breach = None
            if limits.rate is not None and len(arrivals) > limits.rate:
                breach = f"{len(arrivals)} requests within {limits.window:g} s (limit {limits.rate})"
            concurrent = here if limits.per_endpoint else self.in_flight
            if limits.concurrency is not None and concurrent > limits.concurrency:
                where = f" on {endpoint}" if limits.per_endpoint else ""
                breach = f"{concurrent} requests at once{where} (limit {limits.concurrency})"
            if breach:
                self.violations.append(breach)
            return breach

    def leave(self, endpoint: str) -> None:
        with self._lock:
            self.in_flight -= 1
            self._in_flight[endpoint] -= 1


class FakeServer:
    """Base of the fakes: request log, scripted faults, documented limits counted
    (:attr:`meter`), an optional per-request ``latency``, WSGI plumbing."""

    #: The vendor's documented limits; a subclass states its product's.
    limits: Limits = Limits()
    #: Every fake alive, so that a test fixture can fail any test whose fake saw a breach.
    alive: weakref.WeakSet[FakeServer] = weakref.WeakSet()

    def __init__(self) -> None:
        FakeServer.alive.add(self)
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()  # the loopback server handles requests on several threads
        #: Seconds every answer takes, as a distant product's would (benchmarks, concurrency tests).
        self.latency = 0.0
        self.meter = Meter(self.limits)
        #: True while the records stand still (the benchmarks set it): a list's rows, filtered and
        #: sorted for one query, are then worked out once and kept (:meth:`view`) instead of for
        #: every page, so a million-row fake answers a page in the time a product would.
        self.static = False
        self._views: dict[Hashable, list[Any]] = {}
        self._views_lock = threading.Lock()

    # ----------------------------------------------------------------- for tests

    def fail(
        self,
        status: int,
        *,
        body: bytes | str | Any = b"",
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests (whose path contains ``path``, if given) with this instead."""
        def matches(request: Request) -> bool:
            return path is None or path in request.path

        self._faults.append(_Fault(Response(status, body, dict(headers or {})), matches, times))

    def view(self, query: Hashable, build: Callable[[], list[Any]]) -> list[Any]:
        """The rows ``build`` works out for ``query``: kept once worked out while :attr:`static`."""
        if not self.static:
            return build()
        with self._views_lock:
            rows = self._views.get(query)
            if rows is None:
                rows = self._views[query] = build()
            return rows

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested so far, in order (of one method if given)."""
        return [r.path for r in self.requests if method is None or r.method == method]

    # ----------------------------------------------------------------- for subclasses

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def endpoint(self, request: Request) -> str:
        """The endpoint a request counts against for a per-endpoint limit (default: its path)."""
        return request.path

    # ----------------------------------------------------------------- WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        host = headers.get("host") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        request = Request(environ["REQUEST_METHOD"], path, query, headers, body,
                          f"{environ['wsgi.url_scheme']}://{host}")
        endpoint = self.endpoint(request)
        breach = self.meter.enter(endpoint)
        try:
            if self.latency:
                time.sleep(self.latency)
            with self._lock:
                self.requests.append(request)
                response = self._scripted(request)
            if response is None:
                response = self.over_limit(breach) if breach else self.handle(request)
        finally:
            self.meter.leave(endpoint)
        status = f"{response.status} {_reason(response.status)}"
        payload = response.encoded()
        start_response(status, [*response.headers.items(), ("Content-Length", str(len(payload)))])
        return [payload]

    def over_limit(self, breach: str) -> Response:
        """The answer to a request beyond the documented limits (the vendors' 429)."""
        return Response.json({"errors": [f"rate limit exceeded: {breach}"]}, 429, {"Retry-After": "1"})

    def _scripted(self, request: Request) -> Response | None:
        for fault in self._faults:
            if fault.matches(request):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault.response
        return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def transport(app: FakeServer) -> httpx.WSGITransport:
    """An httpx transport that calls ``app`` in-process."""
    return httpx.WSGITransport(app=app)


def page_window(items: list[Any], number: int, size: int) -> list[Any]:
    """Items of 1-based page ``number`` of ``size``."""
    start = (number - 1) * size
    return items[start:start + size] if number >= 1 else []
