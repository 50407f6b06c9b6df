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
import tempfile
from collections.abc import Callable, Iterator
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
            self._update(lambda data: data.__setitem__("theme", theme))

    def view(self, store: Path | str) -> ViewState:
        stores = self._data.get("stores")
        return ViewState.from_json(stores.get(_key(store)) if isinstance(stores, dict) else None)

    def set_view(self, store: Path | str, view: ViewState) -> None:
        def change(data: dict[str, Any]) -> None:
            stores = data.get("stores")
            if not isinstance(stores, dict):
                stores = {}
            stores.pop(_key(store), None)
            stores[_key(store)] = asdict(view)  # last used last, so the oldest go first
            while len(stores) > MAX_STORES:
                stores.pop(next(iter(stores)))
            data["stores"] = stores

        self._update(change)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``change`` to the file as it is now, not to the copy read at start: another
        syncview (on another store) may have written its own entry since, and keeps it. The
        read, change and write hold a lock beside the file; the write is atomic. A failure
        (read-only home, full disk) is ignored: the change is kept in memory."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(self.path.with_name(self.path.name + ".lock")):
                data = self._read()
                change(data)
                self._data = data
                self._write(data)
        except OSError:
            change(self._data)

    def _write(self, data: dict[str, Any]) -> None:
        # A temporary file of this process's own (two instances writing one ".partial" would
        # mix), then one rename: a reader sees the old file or the new one, never half of one.
        handle, partial = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".partial")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(data, indent=1))  # key order kept: the stores, oldest first
            os.replace(partial, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` for the block (none where the platform has no flock)."""
    try:
        import fcntl
    except ImportError:  # Windows: the atomic write still keeps the file whole
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _key(store: Path | str) -> str:
    """A store file by its resolved path; a server's store (PostgreSQL) by its URL as shown,
    the password masked (resolved as a path, it would depend on the current directory)."""
    if isinstance(store, str) and "://" in store:
        return store
    return str(Path(store).expanduser().resolve())
