"""The key bar: whole keys only, in the order the screen declares them, help always in reach."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Actions the bar keeps whatever the width (the way to every other key).
ALWAYS = ("help",)


class KeyFooter(Footer):
    """Textual's footer cuts the last key that does not fit mid-word ("spac▏"), and a key
    rebound in the config moves to the end of its list and off the bar. This one lays out
    only the keys that fit whole, in the order their screen or widget declares them
    (whatever key they are bound to now), with help (``?``) and the palette always shown.
    """

    _laid_out_for = 0

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for:  # the keys that fit depend on the width
            self._laid_out_for = event.size.width
            self.call_after_refresh(self.recompose)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        shown: dict[tuple[int, str], tuple[int, int, Binding, bool, str]] = {}
        nodes: dict[int, int] = {}
        for node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action == "command_palette":
                continue
            rank = nodes.setdefault(id(node), len(nodes))
            key = (id(node), binding.action)
            if key not in shown:  # one entry per action, as Textual's footer groups them
                shown[key] = (rank, _declared_at(node, binding), binding, enabled, tooltip)
        entries = sorted(shown.values(), key=lambda entry: entry[:2])
        palette = active.get(self.app.COMMAND_PALETTE_BINDING) if self.show_command_palette else None
        room = self.size.width - (_width(self.app.get_key_display(palette[1]), palette[1].description) + 1
                                  if palette else 0)
        kept = [entry for entry in entries if entry[2].action in ALWAYS]
        room -= sum(_width(self.app.get_key_display(e[2]), e[2].description) for e in kept)
        chosen = []
        for entry in entries:
            if entry in kept:
                chosen.append(entry)
                continue
            width = _width(self.app.get_key_display(entry[2]), entry[2].description)
            if width <= room:
                chosen.append(entry)
                room -= width
            else:
                room = -1  # keep the declared order: no later, shorter key jumps the queue
        self.styles.grid_size_columns = len(chosen) + (1 if palette else 0)
        for _rank, _at, binding, enabled, tooltip in chosen:
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette is not None:
            _node, binding, enabled, _tooltip = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)


def _width(key: str, description: str) -> int:
    """Cells a compact key takes: the key, a space, the description, the gap after it."""
    return cell_len(key) + 1 + cell_len(description) + 1


def _declared_at(node: object, binding: Binding) -> int:
    """Where the node's class declares ``binding`` (by id, else by action): its place on the bar."""
    for cls in type(node).__mro__:
        for index, declared in enumerate(cls.__dict__.get("BINDINGS", ())):
            if isinstance(declared, Binding) and (
                    (binding.id and declared.id == binding.id) or declared.action == binding.action):
                return index
    return 1_000
