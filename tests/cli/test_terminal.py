"""Bare ``syncview`` on a real terminal (a pseudo-terminal): first run seeds the demo, the screen opens, q quits."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _read_until(fd: int, wanted: bytes, timeout: float, seen: bytes = b"") -> bytes:
    """``seen`` and everything the terminal showed after it, until ``wanted`` appears in that;
    fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{wanted!r} never appeared; the terminal showed: {seen[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
    return seen


def test_bare_syncview_opens_the_screen_on_a_first_run_and_q_quits(tmp_path: Path):
    db = tmp_path / "first.db"
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    controller, terminal = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "syncview", "--db", str(db)], stdin=terminal, stdout=terminal,
                             stderr=terminal, env=env, close_fds=True, start_new_session=True)
    os.close(terminal)
    try:
        # One growing transcript: the screen paints in any order, and a part painted once is not painted again.
        shown = _read_until(controller, b"Sync status", timeout=60)
        assert b"First run: seeded the demo MSP" in shown
        _read_until(controller, b"ConnectWise Manage", timeout=30, seen=shown)
        os.write(controller, b"q")
        # Keep reading: a child whose terminal output is not read blocks on its last writes.
        _read_until(controller, b"\x1b[?1049l", timeout=30)  # the screen it took is given back
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)
    assert db.exists()
