"""One signal policy for the CLI and the screen: SIGTERM (``kill``, systemd, a container
stopping) and SIGHUP (the SSH session dropped) stop syncview the way Ctrl-C does.

Ctrl-C raises KeyboardInterrupt, and every command already ends well on it: a sync records its
run as interrupted, an export or a backup removes its ``.partial`` file, a write transaction
rolls back. :func:`stop_like_ctrl_c` makes the other two signals raise :class:`Terminated`, a
KeyboardInterrupt, so they take the same paths. The screen cannot take an exception in the
middle of its event loop, so it asks Textual to exit instead (``SyncviewApp``), which gives
the terminal back (alternate screen left, mouse tracking off).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

#: The signals that stop syncview as Ctrl-C does (SIGINT keeps Python's own handler).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; handled wherever Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


#: The last stop signal received, for the final line ("interrupted (SIGTERM)").
received: int | None = None


def _raise(signum: int, _frame: FrameType | None) -> None:
    global received
    received = signum
    raise Terminated(signum)


def stop_like_ctrl_c() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise)


def name(signum: int | None) -> str:
    """"SIGTERM" for 15; empty for None."""
    return signal.Signals(signum).name if signum else ""
