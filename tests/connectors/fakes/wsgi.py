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
from collections.abc import Callable, Iterable, Mapping
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


class FakeServer:
    """Base of the fakes: request log, scripted faults, WSGI plumbing."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()  # the loopback server handles requests on several threads

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

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested so far, in order (of one method if given)."""
        return [r.path for r in self.requests if method is None or r.method == method]

    # ----------------------------------------------------------------- for subclasses

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

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
        with self._lock:
            self.requests.append(request)
            response = self._scripted(request)
        if response is None:
            response = self.handle(request)
        status = f"{response.status} {_reason(response.status)}"
        payload = response.encoded()
        start_response(status, [*response.headers.items(), ("Content-Length", str(len(payload)))])
        return [payload]

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
