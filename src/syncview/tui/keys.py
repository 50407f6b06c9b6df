"""The keys of the app, read from the bindings themselves: help, the command palette and
the ``[keymap]`` check all derive from what the screens and widgets declare.

A screen or widget that declares ``BINDINGS`` gives them a ``BINDING_GROUP_TITLE`` (the
help's heading for them), an ``id`` each (what ``[keymap]`` takes), a ``description``
(short: the footer shows it) and, where the description alone does not say enough, a
``tooltip`` (the palette's help line, shown on hover in the footer too). Nothing else
lists keys: a new dialog's bindings are in help and the palette once its module is imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial

from textual.actions import parse
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget

#: Key names as the help and the README write them.
_KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc", "pageup": "PgUp", "pagedown": "PgDn",
              "asterisk": "*", "minus": "-", "space": "space"}


def _ours(cls: type) -> bool:
    return cls.__module__.startswith("syncview.")


@cache
def _import_the_tui() -> None:
    """Import every module of the TUI, so a dialog nothing has opened yet is found too."""
    import syncview.tui

    for module in pkgutil.walk_packages(syncview.tui.__path__, "syncview.tui."):
        importlib.import_module(module.name)


def binding_owners() -> list[type[DOMNode]]:
    """Every class of syncview (app, screens, widgets) that declares bindings of its own, in the
    order help lists them: main screens, widgets, dialogs by title, the app's last."""
    _import_the_tui()
    found: list[type[DOMNode]] = []
    pending: list[type[DOMNode]] = [DOMNode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if _ours(cls) and cls.__dict__.get("BINDINGS"):
            found.append(cls)

    def rank(cls: type[DOMNode]) -> tuple[int, str]:
        if issubclass(cls, App):
            kind = 3
        elif issubclass(cls, ModalScreen):
            kind = 2
        elif issubclass(cls, Screen):
            kind = 0
        else:
            kind = 1
        return kind, title_of(cls)

    return sorted(set(found), key=rank)


def own_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings ``cls`` itself declares (not those it inherits)."""
    return [b for b in cls.__dict__.get("BINDINGS", ()) if isinstance(b, Binding)]


def title_of(cls: type[DOMNode]) -> str:
    """The help's heading for ``cls``'s keys; TypeError if it has bindings but no title."""
    title = cls.__dict__.get("BINDING_GROUP_TITLE")
    if not title:
        raise TypeError(f"{cls.__module__}.{cls.__qualname__} declares BINDINGS but no BINDING_GROUP_TITLE "
                        "(the heading help lists its keys under)")
    return str(title)


def binding_ids() -> set[str]:
    """The id of every binding syncview declares: what ``[keymap]`` may name."""
    return {b.id for cls in binding_owners() for b in own_bindings(cls) if b.id}


def key_names(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys that run ``binding`` now, as a person reads them: the ``[keymap]`` key when the
    config rebinds it (its ``key_display`` names the old key then), else its own."""
    rebound = keymap.get(binding.id or "")
    if rebound is None and binding.key_display:
        return binding.key_display
    keys = rebound if rebound is not None else binding.key
    return ", ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def keymap_of(app: App[object]) -> dict[str, str]:
    """The ``[keymap]`` the app runs with (none for an app without a config)."""
    config = getattr(app, "config", None)
    keymap = getattr(config, "keymap", None)
    return dict(keymap) if keymap else {}


def bound_keys(app: App[object], cls: type[DOMNode], binding_id: str) -> str:
    """The keys that run ``cls``'s binding ``binding_id`` now, as :func:`key_names` writes them."""
    for binding in own_bindings(cls):
        if binding.id == binding_id:
            return key_names(binding, keymap_of(app))
    raise KeyError(f"{cls.__qualname__} has no binding {binding_id!r}")


@dataclass(frozen=True, slots=True)
class KeyLine:
    """One line of help: the keys, what they do, and the id that rebinds them."""

    keys: str
    description: str
    id: str


def help_sections(keymap: dict[str, str]) -> list[tuple[str, list[KeyLine]]]:
    """Every screen's and widget's keys under its heading, with the keys bound now."""
    return [(title_of(cls), [KeyLine(key_names(b, keymap), b.description or b.action, b.id or "")
                             for b in own_bindings(cls)])
            for cls in binding_owners()]


def _offered(screen: Screen[object]) -> Iterator[tuple[DOMNode, Binding]]:
    """The bindings a key can run on ``screen``: the screen's, its widgets', then the app's."""
    app = screen.app
    nodes: list[DOMNode] = [screen, *(w for w in screen.query(Widget) if _ours(type(w)) and w is not screen)]
    seen: set[str] = set()
    for node in [*nodes, app]:
        for cls in type(node).__mro__:
            if not _ours(cls):
                continue
            for binding in own_bindings(cls):
                key = binding.id or f"{cls.__qualname__}.{binding.action}"
                # Textual's palette has its own Quit, and the palette needs no entry for itself.
                if key in seen or binding.action in ("quit", "command_palette"):
                    continue
                seen.add(key)
                yield node, binding


class BindingCommands(Provider):
    """The palette's commands: every binding of the screen it was opened on (and of that
    screen's widgets and the app), so the palette offers what the keys offer."""

    def _commands(self) -> Iterator[tuple[str, str, Binding, DOMNode]]:
        keymap = keymap_of(self.app)
        for node, binding in _offered(self.screen):
            action, params = _parse(binding.action)
            if node.check_action(action, params) is False:
                continue
            title = binding.description or binding.action
            help_text = f"{binding.tooltip or title} ({key_names(binding, keymap)})"
            yield title, help_text, binding, node

    def _run(self, binding: Binding, node: DOMNode) -> Callable[[], Awaitable[bool]]:
        return partial(self.app.run_action, binding.action, node)

    async def discover(self) -> Hits:
        for title, help_text, binding, node in self._commands():
            yield DiscoveryHit(title, self._run(binding, node), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, binding, node in self._commands():
            # The title is the footer's short word; its tooltip says it in full ("view sync logs").
            score = max(matcher.match(title), matcher.match(binding.tooltip or "") * 0.9)
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._run(binding, node), text=title, help=help_text)


def _parse(action: str) -> tuple[str, tuple[object, ...]]:
    _, name, params = parse(action)
    return name, params
