"""Keys are described once, by the bindings: the README's tables, help and the command
palette must offer every binding of every screen, found here by importing every module of
the TUI (not from a list of screens someone keeps)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Select

import syncview.tui
from syncview.config import Config
from syncview.tui.app import SyncviewApp
from syncview.tui.keys import binding_ids
from syncview.tui.screens.help import HelpScreen
from tests.tui.conftest import settle

README = Path(__file__).resolve().parents[2] / "README.md"


def declared_bindings() -> dict[str, list[Binding]]:
    """Every class in the TUI's modules that declares bindings, by qualified name."""
    found: dict[str, list[Binding]] = {}
    for info in pkgutil.walk_packages(syncview.tui.__path__, "syncview.tui."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, DOMNode) and value.__module__ == module.__name__
                    and value.__dict__.get("BINDINGS")):
                found[f"{value.__module__}.{value.__qualname__}"] = [
                    b for b in value.__dict__["BINDINGS"] if isinstance(b, Binding)]
    return found


def test_the_search_finds_the_screens_and_dialogs():
    found = declared_bindings()
    for name in ("screens.overview.OverviewScreen", "widgets.resource_table.ResourceTable", "app.SyncviewApp",
                 "screens.rematch.RematchDialog", "screens.row_menu.RowMenu", "screens.details.DetailsScreen",
                 "screens.exclude.ExcludeDialog", "screens.help.HelpScreen", "screens.logs.SyncLogsDialog"):
        assert f"syncview.tui.{name}" in found, name
    assert len(found) >= 15


def test_every_binding_has_an_id_and_the_readme_lists_each_one():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using it"):]
    section = section[:section.index("\n## ", 1)]
    listed = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", section))
    ids = {b.id for bindings in declared_bindings().values() for b in bindings}
    assert None not in ids, "every binding needs an id, so it can be rebound from the config"
    assert ids - listed == set(), "bindings missing from the README's keys tables"
    assert listed - ids == set(), "the README lists bindings the app does not have"
    assert binding_ids() == ids  # what [keymap] accepts is what the screens declare


def test_every_binding_id_in_the_example_config_exists():
    example = (README.parent / "config.example.toml").read_text(encoding="utf-8")
    section = example[example.index("[keymap]"):]
    section = section[:section.index("\n# ----")]
    named = set(re.findall(r'^#\s*"([a-z_]+\.[a-z_]+)"\s*=', section, flags=re.M))
    assert len(named) > 10
    assert named - binding_ids() == set()


def painted_lines(widget) -> list[list[str]]:
    return [widget.render_line(y).text.split() for y in range(widget.size.height)]


async def test_help_shows_every_binding_with_its_id_and_the_key_bound_now(demo_store):
    keymap = {"overview.exclude": "X", "app.help": "f1", "rematch.match": "ctrl+g", "overview.mark_all": "plus"}
    app = SyncviewApp(demo_store, Config(path=None, keymap=keymap), operator="tester")
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")  # rebound: the old key does nothing
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        # What the border shows (the public getter gives it back as markup, which hides the bug).
        assert "[keymap] rebinds by id" in app.screen.query_one(".dialog")._border_subtitle.plain
        keys = app.screen.query_one("Static")
        lines = {line[-1]: line for line in painted_lines(keys) if line}
        for name, bindings in declared_bindings().items():
            for binding in bindings:
                assert binding.id in lines, f"{binding.id} of {name} is not in help"
        assert lines["overview.exclude"] == ["X", "Exclude", "overview.exclude"]
        assert lines["app.help"] == ["f1", "Help", "app.help"]
        assert lines["rematch.match"] == ["ctrl+g", "Match", "rematch.match"]
        assert lines["overview.mark_all"] == ["plus", "Mark", "all", "overview.mark_all"]  # not its old "*"
        assert lines["overview.rematch"] == ["m", "Re-match", "overview.rematch"]
        assert lines["overview.filter"] == ["/", "Filter", "overview.filter"]
        await pilot.press("escape")
        await pilot.press("X")
        await settle(pilot)
        assert type(app.screen).__name__ == "ExcludeDialog"


async def _palette(pilot, query: str) -> None:
    await pilot.press("ctrl+p", *query)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def test_the_palette_offers_the_type_and_status_pickers(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # Each opens its picker's list at once (issue 16 item 6): the focus is in that list.
        await _palette(pilot, "type")
        picker = app.screen.query_one("#type", Select)
        assert picker.expanded and app.focused.parent is picker
        await pilot.press("escape")
        await settle(pilot)
        await _palette(pilot, "choose status")
        picker = app.screen.query_one("#status-filter", Select)
        assert picker.expanded and app.focused.parent is picker


async def test_the_palette_offers_every_key_of_the_screen(app, demo_store):
    from syncview.tui.keys import BindingCommands

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        provider = BindingCommands(app.screen)
        offered = {binding.id for _, _, binding, _ in provider._commands()}
        screen_ids = {b.id for b in type(app.screen).BINDINGS if isinstance(b, Binding)}
        table_ids = {b.id for b in declared_bindings()["syncview.tui.widgets.resource_table.ResourceTable"]}
        # enter-in-the-filter only applies while the filter has focus
        assert (screen_ids | table_ids | {"app.help"}) - {"overview.filter_done"} <= offered


async def test_a_keymap_id_that_names_no_binding_is_reported_on_screen(demo_store):
    keymap = {"filter": "f", "overview.exclude": "X"}
    app = SyncviewApp(demo_store, Config(path=None, keymap=keymap), operator="tester")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        toasts = [" ".join(" ".join(line) for line in painted_lines(toast)) for toast in app.screen.query("Toast")]
        # "[keymap]" is text, not a markup tag that would vanish
        assert any('[keymap] "filter" is no binding id (did you mean "overview.filter"?)' in t for t in toasts), toasts
        await pilot.press("X")  # the valid entry still applies
        await settle(pilot)
        assert type(app.screen).__name__ == "ExcludeDialog"


async def test_the_row_menu_names_the_keys_as_rebound(demo_store):
    from textual.widgets import OptionList

    app = SyncviewApp(demo_store, Config(path=None, keymap={"menu.exclude": "X"}), operator="tester")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"ACME-LT-023", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RowMenu"
        menu = app.screen.query_one(OptionList)
        labels = [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]
        assert [label.split()[-1] for label in labels] == ["m", "X", "i", "d"]
        await pilot.press("X")
        await settle(pilot)
        assert type(app.screen).__name__ == "ExcludeDialog"


async def test_the_palette_on_each_dialog_offers_every_key_of_that_dialog(app, demo_store):
    """Opened over a dialog, the palette offers the dialog's keys (and its widgets' and the
    app's), not the overview's underneath."""
    from syncview.tui.keys import BindingCommands, own_bindings

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        seen = set()
        # Each dialog as a person opens it from the overview: logs, history, help, the row's
        # menu, exclude, re-match, details, suggested matches, export.
        for key in ("l", "h", "question_mark", "enter", "x", "m", "d", "a", "e"):
            await pilot.press(key)
            await settle(pilot)
            dialog = app.screen
            assert type(dialog).__name__ != "OverviewScreen", key
            seen.add(type(dialog).__name__)
            offered = {binding.id for _, _, binding, _ in BindingCommands(dialog)._commands()}
            own = {b.id for cls in type(dialog).__mro__ if cls.__module__.startswith("syncview.")
                   for b in own_bindings(cls)}
            assert own and own <= offered, (type(dialog).__name__, own - offered)
            assert "overview.exclude" not in offered  # the screen underneath is not offered
            await pilot.press("escape")
            await settle(pilot)
            assert type(app.screen).__name__ == "OverviewScreen", type(app.screen).__name__
        assert len(seen) == 9, seen
