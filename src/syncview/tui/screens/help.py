"""The help screen: every key of the app as bound now (``[keymap]`` included), with the
binding id that rebinds it. The lines come from the bindings themselves (tui/keys.py)."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from syncview.tui.keys import KeyLine
from syncview.tui.text import shown

#: (heading, lines) pairs the help lists, in reading order.
Sections = list[tuple[str, list[KeyLine]]]


def key_table(sections: Sections) -> Group:
    """Each section's heading over a grid of keys, what they do and their binding ids.
    Headings sit on their own lines so a long one never squeezes the descriptions out; the key
    column has one width throughout, so the sections line up."""
    width = max((len(line.keys) for _, lines in sections for line in lines), default=1)
    parts: list[Text | Table] = []
    for title, lines in sections:
        parts.append(Text(f"\n{title}", style="underline"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, min_width=width)
        grid.add_column(ratio=1)
        grid.add_column(style="dim", no_wrap=True)
        for line in lines:
            # Never markup: a key comes from the config, and "[" is a key, not a style tag.
            grid.add_row(shown(line.keys), shown(line.description), shown(line.id))
        parts.append(grid)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss(None)", "Close", id="help.close"),
    ]

    def __init__(self, sections: Sections) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide tall") as box:
            box.border_title = "Keys"
            # Content, not a str: a str is read as markup, and "[keymap]" would vanish as a tag.
            box.border_subtitle = Content("esc closes · ctrl+p finds any action · [keymap] rebinds by id")
            yield Static(key_table(self.sections))

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
