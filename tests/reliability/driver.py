"""Run the syncview CLI with one pause point, so a test can SIGKILL it at an exact place.

``python driver.py ARGS...`` is ``syncview ARGS...`` with, per the environment:

- ``SYNCVIEW_TEST_PAUSE=module:Name.attr``: the function to pause in (wrapped here,
  in this process only: syncview's code is not changed);
- ``SYNCVIEW_TEST_PAUSE_CALL=N``: pause at its Nth call (default 1);
- ``SYNCVIEW_TEST_PAUSE_WHEN=after|before``: once the call has returned (default), or
  before it runs;
- ``SYNCVIEW_TEST_MARKER=PATH``: written when the pause begins, for the test to wait on;
- ``SYNCVIEW_TEST_RESUME=PATH``: the pause ends when this file appears; without it the
  pause lasts until the process is killed;
- ``SYNCVIEW_TEST_DEMO_PAGE_SIZE=N``: items per page of the demo connector (many small
  pages make many commit points).

A test-only launcher: it lives under tests/ and production code has no hook for it.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from pathlib import Path


def _install_pause() -> None:
    target = os.environ.get("SYNCVIEW_TEST_PAUSE")
    if not target:
        return
    module_name, _, qualified = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, attr = qualified.split(".")
    for name in path:
        owner = getattr(owner, name)
    original = getattr(owner, attr)
    wanted = int(os.environ.get("SYNCVIEW_TEST_PAUSE_CALL", "1"))
    before = os.environ.get("SYNCVIEW_TEST_PAUSE_WHEN", "after") == "before"
    calls = 0

    @functools.wraps(original)
    def paused(*args, **kwargs):
        nonlocal calls
        calls += 1
        if before and calls == wanted:
            _pause()
        result = original(*args, **kwargs)
        if not before and calls == wanted:
            _pause()
        return result

    setattr(owner, attr, paused)


def _pause() -> None:
    marker = os.environ.get("SYNCVIEW_TEST_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    resume = os.environ.get("SYNCVIEW_TEST_RESUME")
    deadline = time.monotonic() + 120  # never outlive a test that forgot us
    while time.monotonic() < deadline:
        if resume and Path(resume).exists():
            return
        time.sleep(0.01)
    os._exit(99)


def main() -> None:
    page_size = os.environ.get("SYNCVIEW_TEST_DEMO_PAGE_SIZE")
    if page_size:
        from syncview.connectors.demo import DemoConnector

        DemoConnector.page_size = int(page_size)
    _install_pause()
    from syncview.cli import main as syncview_main

    sys.argv[0] = "syncview"
    syncview_main()


if __name__ == "__main__":
    main()
