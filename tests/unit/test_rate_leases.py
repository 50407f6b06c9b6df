"""The limiter leasing its rate from the store (connectors/limits.py over store/leases.py), in one process."""

from __future__ import annotations

import threading

from syncview.connectors.limits import Limiter, Limits
from syncview.store.db import open_store
from syncview.store.leases import StoreBudget, leases_alive
from tests.helpers import rows


def test_a_lease_is_settled_to_what_was_used_and_unused_slots_come_back_at_once(tmp_path):
    store = open_store(tmp_path / "s.db")
    budget = StoreBudget(store)
    limiter = Limiter(Limits(rate=100, window=30.0, concurrency=4), account="Datto", budget=budget)
    with limiter.slot():
        pass
    assert leases_alive(store) == [("Datto", 1, 4)]  # a block of the concurrency bound, leased at once
    limiter.release()
    assert leases_alive(store) == [("Datto", 1, 1)]  # the one used stays counted for its window...
    [(left,)] = rows(store, "SELECT expires_at - granted_at FROM rate_lease")
    assert left <= 30.0 + 1.0  # ...a window after it ended, not the lease's full life
    assert budget.transactions == 4  # room in flight and slots taken, then both given back
    store.close()


def test_leases_grow_while_they_run_out_early_and_threads_share_them(tmp_path):
    store = open_store(tmp_path / "s.db")
    budget = StoreBudget(store)
    limiter = Limiter(Limits(rate=400, window=30.0, concurrency=4), account="Datto", budget=budget)

    def send(count: int) -> None:
        for _ in range(count):
            with limiter.slot():
                pass

    threads = [threading.Thread(target=send, args=(30,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    limiter.release()
    sizes = [n for (n,) in rows(store, "SELECT slots FROM rate_lease ORDER BY id")]
    assert sum(sizes) == 120  # every slot used, none counted twice
    assert limiter.leases_taken == len(sizes) < 120 / 4  # far fewer store writes than requests
    assert max(sizes) == 400 // 8  # doubled up to an eighth of the rate
    store.close()


def test_a_second_holder_gets_only_what_is_free_and_waits_for_the_rest(tmp_path):
    store = open_store(tmp_path / "s.db")
    one, two = StoreBudget(store, holder="one"), StoreBudget(store, holder="two")
    assert one.take("Datto", rate=10, want=8, lasts=60.0).count == 8
    assert two.take("Datto", rate=10, want=8, lasts=60.0).count == 2
    refused = two.take("Datto", rate=10, want=8, lasts=60.0)
    assert refused.count == 0 and 59.0 < refused.wait <= 60.0
    assert two.take("Autotask", rate=10, want=8, lasts=60.0).count == 8  # each integration its own rate
    store.close()


def test_room_in_flight_is_shared_and_a_waiting_holder_gets_a_fair_share(tmp_path):
    store = open_store(tmp_path / "s.db")
    sync, doctor = StoreBudget(store, holder="sync"), StoreBudget(store, holder="doctor")
    first = sync.take_flights("Datto", "", limit=10, lease=None, need=0, want=10, lasts=60.0)
    assert (first.count, first.share) == (10, None)
    refused = doctor.take_flights("Datto", "", limit=10, lease=None, need=0, want=10, lasts=60.0)
    assert refused.count == 0 and refused.wait > 0  # marked as waiting
    # The sync renews with all ten in flight: it keeps them, and is told to come down to half.
    renewed = sync.take_flights("Datto", "", limit=10, lease=first.lease, need=10, want=10, lasts=60.0)
    assert (renewed.count, renewed.share) == (10, 5)
    shrunk = sync.take_flights("Datto", "", limit=10, lease=first.lease, need=5, want=10, lasts=60.0)
    assert shrunk.count == 5
    room = doctor.take_flights("Datto", "", limit=10, lease=refused.lease, need=0, want=10, lasts=60.0)
    assert room.count == 5  # what the sync gave up (the doctor holds no more than is free)
    assert sync.take_flights("Datto", "other", limit=10, lease=None, need=0, want=10, lasts=60.0).count == 10
    doctor.end_flights("Datto", "", room.lease)
    assert sync.take_flights("Datto", "", limit=10, lease=first.lease, need=0, want=10, lasts=60.0).count == 10
    store.close()


def test_a_holder_waiting_for_room_is_not_starved_by_a_busy_one(tmp_path):
    """A long sync keeps every request in flight it may; the doctor's one request still goes out
    while the sync runs (the sync comes down to a fair share), and never more than the bound at once."""
    import time

    store = open_store(tmp_path / "s.db")
    limits = Limits(concurrency=2)
    sync = Limiter(limits, account="Halo", budget=StoreBudget(store, holder="sync"), hold=0.1, deadline=1.0)
    doctor = Limiter(limits, account="Halo", budget=StoreBudget(store, holder="doctor"), hold=0.1, deadline=1.0)
    lock, in_flight, most = threading.Lock(), [0], [0]
    stop = threading.Event()

    def request(limiter: Limiter) -> None:
        with limiter.slot():
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.02)
            with lock:
                in_flight[0] -= 1

    def busy() -> None:
        while not stop.is_set():
            request(sync)

    threads = [threading.Thread(target=busy) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # the sync holds all the room
    checked = threading.Thread(target=request, args=(doctor,))
    checked.start()
    checked.join(timeout=20)  # a few holds, however loaded the machine
    answered = not checked.is_alive()
    sync_still_running = all(thread.is_alive() for thread in threads)
    stop.set()
    for thread in [*threads, checked]:
        thread.join(timeout=30)
    assert answered and sync_still_running and most[0] <= 2
    store.close()


def test_room_held_by_a_process_of_this_machine_that_is_gone_frees_after_a_moment(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # reaped: its process id is free
    store = open_store(tmp_path / "s.db")
    dead = StoreBudget(store, holder=f"process {finished.pid} on {socket.gethostname()}")
    alive = StoreBudget(store, holder="process 1 on another-machine")
    assert dead.take_flights("Halo", "", limit=4, lease=None, need=0, want=4, lasts=120.0).count == 4
    assert alive.take_flights("Halo", "", limit=4, lease=None, need=0, want=4, lasts=120.0).count == 0
    mine = StoreBudget(store)
    first = mine.take_flights("Halo", "", limit=4, lease=None, need=0, want=4, lasts=0.3)
    assert first.count == 0 and first.wait <= 0.3  # the dead holder's room: counted a moment longer
    time.sleep(first.wait + 0.05)
    back = mine.take_flights("Halo", "", limit=4, lease=first.lease, need=0, want=4, lasts=0.3)
    assert (back.count, back.share) == (2, 2)  # free again, shared with the other machine's waiting holder
    store.close()
