"""The CLI's consoles: one way to make them, so every command prints on the same terms."""

from __future__ import annotations

import sys

from rich.console import Console


class _Output(Console):
    """A console for syncview's output: never markup (names from outside are text), no
    highlighting, long lines left whole for scripts."""

    def on_broken_pipe(self) -> None:
        # The reader went away (``syncview resources | head -1``) after reading what it wanted:
        # a success. Rich points stdout at /dev/null and exits 1; syncview exits 0, as for export.
        self.quiet = True
        from syncview.cli import reader_gone  # the one policy for a closed pipe
        reader_gone()


def console(*, stderr: bool = False) -> Console:
    """A console on standard output (or standard error) for a command's lines and tables."""
    return _Output(highlight=False, soft_wrap=True, markup=False, stderr=stderr, file=sys.stderr if stderr else None)
