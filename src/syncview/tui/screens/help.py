"""The help screen: every key of the app, as bound now (keymap overrides included)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from syncview.tui.text import shown

#: (section, bindings) pairs the help lists, in reading order.
Sections = Iterable[tuple[str, Iterable[BindingType]]]


def key_table(sections: Sections, keymap: dict[str, str]) -> Group:
    """Each section's title over a two-column grid of keys and what they do; ``keymap`` maps
    binding ids to keys. Titles sit on their own lines so a long one never squeezes the
    descriptions out; the key column has one width throughout, so the sections line up."""
    listed: list[tuple[str, list[tuple[str, str]]]] = []
    for title, bindings in sections:
        rows = []
        for binding in bindings:
            if not isinstance(binding, Binding):
                continue
            keys = keymap.get(binding.id or "", binding.key)
            display = ", ".join(binding.key_display or _pretty(k) for k in keys.split(","))
            rows.append((display, binding.description or binding.action))
        listed.append((title, rows))
    width = max((len(keys) for _, rows in listed for keys, _ in rows), default=1)
    parts: list[Text | Table] = []
    for title, rows in listed:
        parts.append(Text(f"\n{title}", style="underline"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, min_width=width)
        grid.add_column()
        for keys, description in rows:
            grid.add_row(shown(keys), shown(description))  # keys come from the config
        parts.append(grid)
    return Group(*parts)


def _pretty(key: str) -> str:
    return {"slash": "/", "question_mark": "?", "escape": "esc", "pageup": "PgUp",
            "pagedown": "PgDn"}.get(key.strip(), key.strip())


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss(None)", "Close", id="help.close"),
    ]

    def __init__(self, sections: Sections, keymap: dict[str, str]) -> None:
        super().__init__()
        self.sections = list(sections)
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog tall") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc closes · ctrl+p finds any action"
            yield Static(key_table(self.sections, self.keymap))

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
