"""Serving WSGI fakes on real loopback sockets, for any test package that needs a product server.

A pytest plugin module: conftest files import :func:`serve` to offer the fixture.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: pytest output stays readable."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[..., Any]], str]]:
    """``serve(app) -> base_url``: run a WSGI app on 127.0.0.1 (a free port) until the test ends.

    The returned base URL is ``http://127.0.0.1:<port>`` without a trailing slash.
    Any number of apps may be served in one test.
    """
    servers: list[tuple[WSGIServer, threading.Thread]] = []

    def start(app: Callable[..., Any]) -> str:
        server = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"fake-server-{server.server_port}", daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_tcp(handle: Callable[[socket.socket], None]) -> tuple[int, Callable[[], None]]:
    """Accept connections on 127.0.0.1 (a free port), each handed to ``handle`` on a thread of
    its own, for servers that speak something other than HTTP (or HTTP gone wrong). Returns the
    port and a function that stops accepting; ``handle`` owns the connection it is given."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, name="fake-tcp-server", daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5)
        listener.close()

    return listener.getsockname()[1], close
