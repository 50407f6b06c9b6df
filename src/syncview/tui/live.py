"""Live screens: what other operators and the scheduled sync change shows up by itself.

:class:`LiveUpdates` is an invisible widget a screen mounts. A thread of its own waits on the
store's :class:`~syncview.store.changes.ChangeWatcher` and posts one message,
:class:`LiveUpdates.Changed`, which bubbles to the screen; the screen answers it with its own
"read again" path, which keeps the cursor, the filters, the sort and the marks.

A plain daemon thread rather than a Textual worker: it lives as long as the screen, and a worker
that never ends would keep "wait for the workers" (tests, shutdown) waiting for ever.

When the store cannot be reached (a database restart, a lost network), it says so once, keeps
trying every :data:`RETRY_S`, and says when it is back, then posts Changed: the screen reads
everything again.
"""

from __future__ import annotations

import threading
import time

from textual import on
from textual.message import Message
from textual.widget import Widget

from syncview.errors import SyncviewError
from syncview.store import Store
from syncview.store.changes import ChangeWatcher, watch

#: Each wait for a change lasts at most this long, so a closing screen is let go quickly.
WAIT_S = 0.25
#: At most one Changed per this many seconds: a sync committing page after page is read again
#: at this pace, not after every page. With the watcher's own delay it keeps within 2 s.
MIN_GAP_S = 1.0
#: How often a lost store is tried again.
RETRY_S = 1.0


class LiveUpdates(Widget):
    """Posts :class:`Changed` when another connection changed the store (see the module doc)."""

    DEFAULT_CSS = "LiveUpdates { display: none; }"

    class Changed(Message):
        """The store changed under another connection: read what is shown again."""

    class _Away(Message):
        bubble = False

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class _Back(Message):
        bubble = False

        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_mount(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="syncview-live", daemon=True)
        self._thread.start()

    def on_unmount(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        watcher: ChangeWatcher | None = None
        away_since: float | None = None
        last_post = 0.0
        pending = False
        try:
            while not self._stop.is_set():
                try:
                    if watcher is None:
                        watcher = watch(self.store)
                    changed = watcher.wait(WAIT_S)
                except Exception as error:  # noqa: BLE001 - StoreError, or a driver's own: never end the thread
                    if watcher is not None:
                        _close_quietly(watcher)
                        watcher = None
                    if away_since is None:
                        away_since = time.monotonic()
                        self.post_message(self._Away(str(error) if isinstance(error, SyncviewError)
                                                     else f"{type(error).__name__}: {error}"))
                    self._stop.wait(RETRY_S)
                    continue
                if away_since is not None:
                    self.post_message(self._Back(time.monotonic() - away_since))
                    away_since = None
                    changed = True  # whatever happened meanwhile: read it all again
                pending = pending or changed
                if pending and time.monotonic() - last_post >= MIN_GAP_S:
                    pending = False
                    last_post = time.monotonic()
                    self.post_message(self.Changed())
        finally:
            if watcher is not None:
                _close_quietly(watcher)

    @on(_Away)
    def _away(self, message: _Away) -> None:
        said = message.error if message.error.startswith("lost the store") else f"lost the store: {message.error}"
        self.notify(f"{said[:1].upper()}{said[1:]}; reconnecting…", title="Store away", severity="warning",
                    timeout=8)

    @on(_Back)
    def _back(self, message: _Back) -> None:
        self.notify(f"Back on the store after {message.seconds:.0f} s away; reading it again",
                    title="Store back", timeout=5)


def _close_quietly(watcher: ChangeWatcher) -> None:
    try:
        watcher.close()
    except Exception:  # noqa: BLE001 - a connection that is already gone cannot be closed cleanly
        pass
