"""One rate per integration for every process on the store (issue 12): leases in the store.

- Two processes sending through one integration's limiter, its rate and its room in flight
  leased from one store (SQLite file or PostgreSQL), never put more requests in any rolling
  window of a loopback fake than the rate, nor more in flight than its bound; each with a
  budget of its own (the control) they do both.
- A leaseholder killed holding slots gives them back by time: at once they are not free, and
  once its leases have expired (hold + deadline (+ window, for the rate) after the grant) they are;
  its room in flight likewise.
- A sync and the doctor at once, as separate ``syncview`` processes, lease from one budget.
- A locked or damaged store gets one clear line.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from syncview.connectors.limits import Limiter, Limits
from syncview.errors import StoreError
from syncview.store import db
from syncview.store.db import open_store
from syncview.store.leases import LEASE_LOCK_CLASS, StoreBudget, leases_alive
from tests.connectors.fakes.datto_rmm import FakeDattoRmm
from tests.connectors.fakes.wsgi import FakeServer, Request, Response
from tests.connectors.fakes.wsgi import Limits as Documented
from tests.reliability.conftest import ENGINES
from tests.reliability.support import TIMEOUT, environment, finish, query, run, spawn, wait_for

pytestmark = pytest.mark.slow

LEASE_DRIVER = Path(__file__).with_name("lease_driver.py")
#: The fake's rate: requests in any rolling WINDOW seconds (short, so that a test spans a few);
#: and requests it allows in flight at once.
RATE, WINDOW, AT_ONCE = 8, 1.5, 3


class Counted(FakeServer):
    """A product that documents RATE requests per rolling WINDOW and AT_ONCE in flight, and
    answers 429 beyond them; each answer takes a moment, so requests overlap."""

    limits = Documented(rate=RATE, window=WINDOW, concurrency=AT_ONCE)

    def __init__(self) -> None:
        super().__init__()
        self.latency = 0.05

    def handle(self, request: Request) -> Response:
        return Response.json({"ok": True})


def drive(store, url: str, tmp_path: Path, name: str, *options: str) -> subprocess.Popen:
    """A lease_driver process, which writes ``name``.ready and then waits for ``go`` to send."""
    ready = tmp_path / f"{name}.ready"
    return subprocess.Popen(
        [sys.executable, str(LEASE_DRIVER), str(store), url, "--rate", str(RATE), "--window", str(WINDOW),
         "--ready", str(ready), "--go", str(tmp_path / "go"), *options],
        env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def together(processes: list[subprocess.Popen], tmp_path: Path, names: list[str]) -> list[dict]:
    """Start ``processes`` sending at one moment (once each is ready); their JSON reports."""
    for process, name in zip(processes, names):
        wait_for(lambda name=name: (tmp_path / f"{name}.ready").exists(), what=f"{name} ready", process=process)
    (tmp_path / "go").write_text("go")
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    return reports


@pytest.mark.parametrize("engine", ENGINES)
def test_two_processes_sharing_one_store_never_put_a_window_over_the_rate(empty_db, serve, tmp_path):
    fake = Counted()
    url = serve(fake)
    open_store(empty_db).close()
    names = ["first", "second"]
    reports = together([drive(empty_db, url, tmp_path, name, "--requests", "12") for name in names],
                       tmp_path, names)
    assert fake.meter.violations == [] and fake.meter.most_in_window <= RATE
    assert [r["statuses"] for r in reports] == [{"200": 12}, {"200": 12}]
    assert fake.meter.most_in_flight <= AT_ONCE
    assert all(r["leases"] >= 1 for r in reports)  # both leased from the one budget


def test_without_the_store_each_process_keeps_its_own_budget_and_the_window_overflows(empty_db, serve, tmp_path):
    """The control: the same two processes, each with a limiter of its own, exceed the rate
    together (so the test above would see it if the leases did not hold)."""
    fake = Counted()
    url = serve(fake)
    open_store(empty_db).close()
    names = ["first", "second"]
    together([drive(empty_db, url, tmp_path, name, "--requests", "12", "--private") for name in names],
             tmp_path, names)
    assert fake.meter.most_in_window > RATE and fake.meter.most_in_flight > AT_ONCE
    FakeServer.alive.discard(fake)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_killed_leaseholders_budget_comes_back_when_its_lease_expires(empty_db, serve, tmp_path):
    fake = Counted()
    url = serve(fake)
    open_store(empty_db).close()
    # A deadline of 4 s: its leases outlive the time this test takes to look at them, however loaded.
    holder = drive(empty_db, url, tmp_path, "holder", "--requests", "100", "--pause", str(tmp_path / "leased"),
                   "--deadline", "4")
    wait_for(lambda: (tmp_path / "holder.ready").exists(), what="holder ready", process=holder)
    (tmp_path / "go").write_text("go")
    wait_for(lambda: (tmp_path / "leased").exists(), what="a lease taken", process=holder)
    holder.kill()
    holder.communicate(timeout=TIMEOUT)

    store = open_store(empty_db)
    try:
        budget = StoreBudget(store, holder="the test")
        [(_, _, held)] = leases_alive(store)
        hold = Limiter(Limits(rate=RATE, window=WINDOW)).hold
        lasts = hold + 4.0 + WINDOW
        # What the dead process leased is still counted: at most what is left is free now.
        first = budget.take("Counted", rate=RATE, want=RATE, lasts=lasts)
        assert first.count == RATE - held
        again = budget.take("Counted", rate=RATE, want=RATE, lasts=lasts)
        assert again.count == 0 and 0 < again.wait <= lasts  # nothing free until the first lease expires
        # Its room in flight too (the dead holder had nothing in flight, but never said so).
        flights = budget.take_flights("Counted", "", limit=AT_ONCE, lease=None, need=0, want=AT_ONCE, lasts=5.0)
        assert flights.count == 0 and 0 < flights.wait <= hold + 4.0
        time.sleep(max(again.wait, flights.wait) + 0.05)
        back = budget.take("Counted", rate=RATE, want=RATE, lasts=lasts)
        assert back.count >= held  # the dead holder's slots are free again
        flights = budget.take_flights("Counted", "", limit=AT_ONCE, lease=flights.lease, need=0, want=AT_ONCE,
                                      lasts=5.0)
        assert flights.count == AT_ONCE
    finally:
        store.close()
    assert fake.meter.violations == []


def datto_config(url: str, fake: FakeDattoRmm) -> str:
    return (f'[[integrations]]\nname = "Datto"\nkind = "datto_rmm"\napi_url = "{url}"\n'
            f'api_key = "{fake.api_key}"\napi_secret = "env:SYNCVIEW_TEST_DATTO_SECRET"\n')


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sync_and_the_doctor_in_two_processes_lease_from_one_budget(demo_db, serve, write_config):
    fake = FakeDattoRmm(sites=6, devices_per_site=40)
    fake.latency = 0.05
    url = serve(fake)
    config = write_config(datto_config(url, fake))
    env = {"SYNCVIEW_TEST_DATTO_SECRET": fake.api_secret}
    run("--db", demo_db, "--config", config, "status", env=env).ok()  # the store at this schema, Datto known
    sync = spawn("--db", demo_db, "--config", config, "sync", "Datto", env=env)
    doctor = json.loads(run("--db", demo_db, "--config", config, "doctor", "--json", env=env).ok().stdout)
    assert {"area": "connectivity", "subject": "Datto", "ok": True, "message": "answered"} in doctor["checks"]
    finish(sync).ok()
    # Leased under the account Datto counts against: the integration's API key on its platform.
    account = f"Datto RMM API key {fake.api_key} on {urlsplit(url).netloc}"
    holders = {row[0] for row in query(demo_db, f"SELECT holder FROM rate_lease WHERE integration = '{account}'")}
    assert len(holders) == 2  # the sync's and the doctor's, each settled, both counted for a window
    assert fake.meter.violations == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_locked_store_fails_a_lease_in_one_line(empty_db, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.3)
    store = open_store(empty_db)
    try:
        budget = StoreBudget(store)
        if isinstance(empty_db, Path):
            other = sqlite3.connect(empty_db)
            other.execute("BEGIN IMMEDIATE")  # a writer holding the store
            expected = "is locked by another syncview process (waited 0.3 s)"
        else:
            import psycopg

            other = psycopg.connect(empty_db, autocommit=True)
            other.execute("SELECT pg_advisory_lock(%s, hashtext('Counted'))", (LEASE_LOCK_CLASS,))
            expected = "is busy with another syncview writer (waited 0.3 s)"
        try:
            with pytest.raises(StoreError) as caught:
                budget.take("Counted", rate=RATE, want=3, lasts=5.0)
        finally:
            other.close()
        line = str(caught.value)
        assert line.startswith("Counted: cannot lease a share of its rate limit from the store: the store ")
        assert expected in line and "\n" not in line
        assert budget.take("Counted", rate=RATE, want=3, lasts=5.0).count == 3  # free again, it works
    finally:
        store.close()


def test_a_sync_on_a_store_without_its_lease_table_fails_in_one_line(demo_db, serve, write_config):
    fake = FakeDattoRmm()
    config = write_config(datto_config(serve(fake), fake))
    env = {"SYNCVIEW_TEST_DATTO_SECRET": fake.api_secret}
    with closing(sqlite3.connect(demo_db)) as raw:
        raw.execute("DROP TABLE rate_lease")  # damaged: the schema says 4, the table is gone
        raw.commit()
    line = run("--db", demo_db, "--config", config, "sync", "Datto", env=env).error_line()
    assert f"Datto RMM API key {fake.api_key} on " in line  # the account whose rate it is
    assert ": cannot lease a share of its rate limit from the store: store error on " in line
    assert "rate_lease" in line


@pytest.mark.parametrize("engine", ENGINES)
def test_a_schema_3_store_gets_its_lease_tables_on_opening(empty_db):
    open_store(empty_db).close()
    if isinstance(empty_db, Path):
        with closing(sqlite3.connect(empty_db)) as raw:
            raw.execute("DROP TABLE rate_lease")
            raw.execute("DROP TABLE flight_lease")
            raw.execute("PRAGMA user_version = 3")
            raw.commit()
    else:
        from tests.pg import pg_execute

        pg_execute(empty_db, "DROP TABLE rate_lease")
        pg_execute(empty_db, "DROP TABLE flight_lease")
        pg_execute(empty_db, "UPDATE syncview_schema SET version = 3")
    store = open_store(empty_db)
    try:
        budget = StoreBudget(store)
        assert budget.take("Counted", rate=RATE, want=2, lasts=5.0).count == 2
        assert budget.take_flights("Counted", "", limit=3, lease=None, need=0, want=3, lasts=5.0).count == 3
    finally:
        store.close()
    version = "PRAGMA user_version" if isinstance(empty_db, Path) else "SELECT version FROM syncview_schema"
    assert query(empty_db, version) == [(db.SCHEMA_VERSION,)] == [(4,)]
