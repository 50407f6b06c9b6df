"""The README's table of keys names every binding of the main screen, so it cannot fall behind the app."""

from __future__ import annotations

import re
from pathlib import Path

from textual.binding import Binding

from syncview.tui.app import SyncviewApp
from syncview.tui.screens.overview import OverviewScreen
from syncview.tui.widgets.resource_table import ResourceTable

README = Path(__file__).resolve().parents[2] / "README.md"


def _main_screen_bindings() -> list[Binding]:
    bindings = [*SyncviewApp.BINDINGS, *OverviewScreen.BINDINGS, *ResourceTable.BINDINGS]
    return [b for b in bindings if isinstance(b, Binding)]


def test_every_main_screen_binding_is_in_the_readme_keys_table():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using it"):]
    section = section[:section.index("\n## ", 1)]
    listed = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", section))
    ids = {b.id for b in _main_screen_bindings()}
    assert None not in ids, "every binding needs an id, so it can be rebound from the config"
    assert ids - listed == set(), "bindings missing from the README's keys table"
    assert listed - ids == set(), "the README lists bindings the app does not have"
