"""The CLI's consoles: one way to make them, so every command prints on the same terms."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from rich.console import Console


class _Output(Console):
    """A console for syncview's output: never markup (names from outside are text), no
    highlighting, long lines left whole for scripts."""

    def on_broken_pipe(self) -> None:
        # The reader went away (``syncview resources | head -1``) after reading what it wanted:
        # a success. Rich points stdout at /dev/null and exits 1; syncview exits 0, as for export.
        self.quiet = True
        reader_gone()


def reader_gone() -> NoReturn:
    """The reader of standard output went away (``syncview export | head -1``): what it wanted
    it has, so that is a success. Standard output is pointed at /dev/null first, or Python's
    own flush at exit would fail on the closed pipe once more. The one policy for a closed
    pipe: the commands' consoles and the CLI's top level both end here."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(0)


def console(*, stderr: bool = False) -> Console:
    """A console on standard output (or standard error) for a command's lines and tables."""
    return _Output(highlight=False, soft_wrap=True, markup=False, stderr=stderr, file=sys.stderr if stderr else None)
