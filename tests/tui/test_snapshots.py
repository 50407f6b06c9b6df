"""Snapshots of what the operator sees: the main screen and the three dialogs, at 120x40 and 80x24.

The demo is seeded at a fixed moment and the clock frozen ten minutes later, in UTC, so
"Last synced" and "Last seen" read the same on every machine and every day. When a change
to the screen is intended, look at the new SVGs and accept them with
``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Input

from syncview.services.seed import seed_demo
from syncview.store import open_store
from syncview.tui.app import SyncviewApp
from tests.tui.conftest import settle

SEEDED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SIZES = {"wide": (120, 40), "narrow": (80, 24)}


@pytest.fixture
def frozen_app(tmp_path, monkeypatch):
    """A demo store seeded at SEEDED, viewed ten minutes later in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("syncview.timeutil.now_utc", lambda: SEEDED + timedelta(minutes=10))
    store = open_store(tmp_path / "snap.db")
    seed_demo(store, 2_000, now=SEEDED)
    yield SyncviewApp(store, operator="tester")
    store.close()
    monkeypatch.undo()
    time.tzset()


async def _select(pilot, name: str) -> None:
    await settle(pilot)
    await pilot.press("slash", *name, "enter")
    await settle(pilot)


async def _rematch(pilot) -> None:
    await _select(pilot, "Acme Corporation, Inc.")
    await pilot.press("m")
    await settle(pilot)
    # The search box's cursor drawn steadily, not caught mid-blink (it made the picture flaky).
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await settle(pilot)


async def _exclude(pilot) -> None:
    await _select(pilot, "WAYNE-FW-0")  # a device the 2,000-resource demo has (ACME-FW- matched none)
    await pilot.press("x")
    await settle(pilot)


async def _logs(pilot) -> None:
    await settle(pilot)
    await pilot.press("l")
    await settle(pilot)


SCREENS = {"overview": settle, "rematch": _rematch, "exclude": _exclude, "logs": _logs}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_snapshot(snap_compare, frozen_app, screen, size):
    assert snap_compare(frozen_app, terminal_size=SIZES[size], run_before=SCREENS[screen])


def test_no_color_paints_in_greys_only(frozen_app, monkeypatch, tmp_path):
    """NO_COLOR (https://no-color.org) is honoured: nothing on screen is drawn in a hue."""
    from textual._doc import take_svg_screenshot

    monkeypatch.setenv("NO_COLOR", "1")
    app = SyncviewApp(frozen_app.store, operator="tester")
    svg = take_svg_screenshot(app=app, terminal_size=(120, 40), run_before=settle)
    # The styles of the painted cells (not the window chrome around them): ".terminal-…-r7 { fill: #e0e0e0 }".
    colours = set(re.findall(r"-r\d+ \{ fill: #([0-9a-f]{6})", svg))
    assert len(colours) > 2, "hardly any styles found: the check would pass vacuously"

    def spread(colour: str) -> int:
        channels = [int(colour[i:i + 2], 16) for i in (0, 2, 4)]
        return max(channels) - min(channels)

    hued = {c for c in colours if spread(c) > 8}
    assert not hued, f"coloured despite NO_COLOR: {sorted(hued)}"
