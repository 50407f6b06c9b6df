"""What the screen remembers between runs: the theme, and per store the last integration,
client and filters.

A small JSON file in the user's state directory (``platformdirs.user_state_path``), not
the store's ``meta`` table: it is the operator's own preference, not a fact about the
store (two operators sharing a store keep their own), writing it never takes the store's
write lock (a sync may hold it), and a read-only store still remembers. A missing or
damaged file is ignored: losing it costs a few keystrokes, never the app.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs

#: Stores remembered at most (the most recently used are kept).
MAX_STORES = 20


def default_state_path() -> Path:
    return platformdirs.user_state_path("syncview") / "tui-state.json"


@dataclass(frozen=True, slots=True)
class ViewState:
    """The overview's place in one store."""

    #: integration name (names survive a store rebuilt by a new demo; ids may not)
    integration: str | None = None
    client: int | None = None
    type: str | None = None
    status: str | None = None
    text: str = ""

    @classmethod
    def from_json(cls, data: Any) -> ViewState:
        if not isinstance(data, dict):
            return cls()

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        client = data.get("client")
        return cls(text("integration"), client if isinstance(client, int) and not isinstance(client, bool) else None,
                   text("type"), text("status"), text("text") or "")


class UiState:
    """The remembered state, read once at start and written when it changes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_state_path()
        self._data: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def theme(self) -> str | None:
        theme = self._data.get("theme")
        return theme if isinstance(theme, str) else None

    def set_theme(self, theme: str) -> None:
        if theme != self.theme:
            self._data["theme"] = theme
            self.save()

    def view(self, store: Path) -> ViewState:
        stores = self._data.get("stores")
        return ViewState.from_json(stores.get(_key(store)) if isinstance(stores, dict) else None)

    def set_view(self, store: Path, view: ViewState) -> None:
        stores = self._data.get("stores")
        if not isinstance(stores, dict):
            stores = {}
        stores.pop(_key(store), None)
        stores[_key(store)] = asdict(view)  # last used last, so the oldest go first
        while len(stores) > MAX_STORES:
            stores.pop(next(iter(stores)))
        self._data["stores"] = stores
        self.save()

    def save(self) -> None:
        """Write the file atomically; a failure (read-only home, full disk) is ignored."""
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(self._data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)


def _key(store: Path) -> str:
    return str(Path(store).expanduser().resolve())
