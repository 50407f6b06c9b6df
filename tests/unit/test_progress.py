"""SyncProgress: the one line the CLI's plain output and the screen's tile show, with its estimate."""

from __future__ import annotations

from syncview.services.sync import SyncProgress


def test_progress_line_names_items_pages_requests_and_the_time_left():
    step = SyncProgress("Datto RMM", "devices", fetched=4_000, total=10_000, entity_fetched=2_000, pages=16,
                        requests=17, elapsed=8.0)
    # 4 000 items in 8 s: 500 a second; 8 000 devices to go.
    assert step.time_left() == 16.0
    assert step.describe() == ("4,000 fetched · devices 2,000 of 10,000 · 16 pages · 17 requests · "
                               "about 16 s left for devices")


def test_no_estimate_without_a_total_and_no_requests_without_http():
    step = SyncProgress("Files", "devices", fetched=10, total=None, entity_fetched=10, pages=1)
    assert step.time_left() is None
    assert step.describe() == "10 fetched · devices 10 · 1 page"


def test_long_estimates_read_in_minutes_and_hours():
    assert SyncProgress("X", "sites", 1, 100, 1, 1, None, 30.0).describe().endswith("about 50 min left for sites")
    assert SyncProgress("X", "sites", 1, 400, 1, 1, None, 30.0).describe().endswith("about 3 h 20 min left for sites")
