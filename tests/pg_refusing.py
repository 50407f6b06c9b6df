"""A PostgreSQL server on loopback that asks for a password and refuses every one.

The machine's real server trusts every login on 127.0.0.1, so it can never say "wrong
password". This one speaks just enough of PostgreSQL's wire protocol (version 3, as libpq
and so psycopg speak it) to do that: it declines SSL and GSS encryption, reads the startup
message, asks for a clear-text password, records what the client sent and answers with the
FATAL error a server with ``password`` authentication sends (SQLSTATE 28P01). Each login it
saw is kept (user, database, password), so a test can check which password reached it.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.loopback import serve_tcp

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
PROTOCOL_3 = 196608


@dataclass
class Login:
    user: str
    database: str
    password: str | None


@dataclass
class RefusingServer:
    port: int
    logins: list[Login] = field(default_factory=list)

    def url(self, user: str = "ana", database: str = "team") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _serve_one(conn: socket.socket, logins: list[Login]) -> None:
    try:
        _login(conn, logins)
    except (ConnectionError, OSError, struct.error):
        pass  # a client that hangs up early has had its answer
    finally:
        conn.close()


def _login(conn: socket.socket, logins: list[Login]) -> None:
    while True:
        (length,) = struct.unpack("!i", _read_exactly(conn, 4))
        body = _read_exactly(conn, length - 4)
        (code,) = struct.unpack("!i", body[:4])
        if code in (SSL_REQUEST, GSS_REQUEST):
            conn.sendall(b"N")  # no encryption here: the client goes on in the clear
            continue
        if code != PROTOCOL_3:
            return
        parts = body[4:].split(b"\0")
        params = dict(zip(parts[0::2], parts[1::2]))
        user = params.get(b"user", b"").decode()
        database = params.get(b"database", b"").decode() or user
        break
    login = Login(user, database, None)
    logins.append(login)  # before the client can see an answer, so a test reads it complete
    conn.sendall(_message(b"R", struct.pack("!i", 3)))  # AuthenticationCleartextPassword
    kind = _read_exactly(conn, 1)  # libpq hangs up here when it has no password to give
    (length,) = struct.unpack("!i", _read_exactly(conn, 4))
    body = _read_exactly(conn, length - 4)
    if kind != b"p":
        return
    login.password = body.rstrip(b"\0").decode()
    fields = b"".join(tag + text.encode() + b"\0" for tag, text in (
        (b"S", "FATAL"), (b"V", "FATAL"), (b"C", "28P01"),
        (b"M", f'password authentication failed for user "{user}"')))
    conn.sendall(_message(b"E", fields + b"\0"))


@pytest.fixture
def refusing_pg() -> Iterator[RefusingServer]:
    """A PostgreSQL server on 127.0.0.1 (a free port) that refuses every password, until the test ends."""
    logins: list[Login] = []
    port, stop = serve_tcp(lambda conn: _serve_one(conn, logins))
    yield RefusingServer(port, logins)
    stop()
