"""A sync killed (SIGKILL) while it fetches several pages and lists at once keeps whole pages only,
and the next sync completes it: pages in flight or fetched ahead are simply lost, never half-written."""

from __future__ import annotations

import pytest

from tests.connectors.fakes.halopsa import FakeHaloPsa
from tests.reliability.conftest import HALO_SECRET, HALO_SECRET_VAR, halo_config
from tests.reliability.support import assert_consistent, kill, query, run, scalar, spawn, wait_for

pytestmark = pytest.mark.slow

PAGE = 5  # halo_config's page_size
ENV = {HALO_SECRET_VAR: HALO_SECRET}


@pytest.mark.parametrize("pages_before_the_kill", [3, 20])
def test_a_sync_killed_during_concurrent_fetching_keeps_whole_pages(tmp_path, serve, write_config,
                                                                   pages_before_the_kill):
    fake = FakeHaloPsa(clients=60, assets_per_client=3, users_per_client=2)  # 60 + 60 + 180 + 120 items
    fake.latency = 0.05  # pages in flight when the kill comes
    config = write_config(halo_config(serve(fake)))
    db = tmp_path / "store.db"
    process = spawn("--db", db, "--config", config, "sync", "Halo", env=ENV)

    def committed() -> int:
        try:
            return scalar(db, "SELECT coalesce(max(fetched), 0) FROM syncrun")
        except Exception:  # the store is not made yet
            return 0

    wait_for(lambda: committed() >= pages_before_the_kill * PAGE, what="pages committed", process=process)
    assert fake.meter.most_in_flight > 1  # the kill comes while fetching runs several requests at once
    kill(process)
    assert_consistent(db)
    # Whole pages only: each type holds whole pages of 5 (the lists are multiples of 5), and as
    # many items as the run's count says it committed.
    by_type = dict(query(db, "SELECT type, count(*) FROM resource GROUP BY type"))
    assert all(count % PAGE == 0 for count in by_type.values()), by_type
    assert sum(by_type.values()) == committed()
    assert query(db, "SELECT outcome FROM syncrun") in ([("running",)], [("partial",)], [("failed",)])
    run("--db", db, "--config", config, "sync", "Halo", env=ENV).ok()
    assert scalar(db, "SELECT count(*) FROM resource") == fake.item_count()
    assert query(db, "SELECT outcome FROM syncrun ORDER BY id DESC LIMIT 1") == [("success",)]
    assert_consistent(db)
