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


def test_every_binding_id_in_the_example_config_exists():
    from syncview.tui.app import binding_ids

    example = (README.parent / "config.example.toml").read_text(encoding="utf-8")
    section = example[example.index("[keymap]"):]
    section = section[:section.index("\n# ----")]
    named = set(re.findall(r'^#\s*"([a-z_]+\.[a-z_]+)"\s*=', section, flags=re.M))
    assert len(named) > 10
    assert named - binding_ids() == set()


async def test_a_keymap_id_that_names_no_binding_is_reported_on_screen(demo_store):
    from syncview.config import Config
    from tests.tui.conftest import settle

    keymap = {"filter": "f", "overview.exclude": "X"}
    app = SyncviewApp(demo_store, Config(path=None, keymap=keymap), operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any('"filter" is no binding id (did you mean "overview.filter"?)' in m for m in messages)
        await pilot.press("X")  # the valid entry still applies
        await settle(pilot)
        assert type(app.screen).__name__ == "ExcludeDialog"
