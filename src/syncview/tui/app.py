"""The syncview application: opens the Sync Overview over a store, with the operator's keys and theme."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import platformdirs
from textual import on
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.binding import Binding, BindingType
from textual.screen import Screen

from syncview.config import Config, did_you_mean
from syncview.safe_text import printable
from syncview.signals import STOP_SIGNALS
from syncview.services import columns
from syncview.store import Store
from syncview.tui.keys import BindingCommands, binding_ids, help_sections
from syncview.tui.screens.help import HelpScreen
from syncview.tui.screens.overview import OverviewScreen
from syncview.tui.state import UiState
from syncview.tui.work import WorkFailed, failure_line


def screenshot_directories() -> list[Path]:
    """Where a screenshot goes, in order: Downloads if there is one, the user state directory
    (``~/.local/state/syncview/screenshots``), the current directory."""
    downloads = platformdirs.user_downloads_path()
    found = [downloads] if downloads.is_dir() else []
    return [*found, platformdirs.user_state_path("syncview") / "screenshots", Path.cwd()]


#: Longest notice shown; a notice is a line or three, never a page.
NOTICE_LIMIT = 300


def unknown_keymap_ids(keymap: dict[str, str]) -> list[str]:
    """One line per ``[keymap]`` entry that names no binding, with the id it probably meant."""
    known = binding_ids()
    lines = []
    for name in sorted(set(keymap) - known):
        ending = [i for i in known if i.endswith(f".{name}")]
        if len(ending) == 1:
            hint = f' (did you mean "{ending[0]}"?)'
        elif ending:
            hint = " (did you mean one of " + ", ".join(f'"{i}"' for i in sorted(ending)) + "?)"
        else:
            hint = did_you_mean(name, known)
        lines.append(f'[keymap] "{name}" is no binding id{hint}; the ids are listed in the README and the help (?)')
    return lines


class SyncviewApp(App[None]):
    """Keyboard-first console over one syncview store."""

    TITLE = "syncview"
    BINDING_GROUP_TITLE = "Everywhere"
    #: Textual's commands (theme, quit, ...) and one per binding of the screen (tui/keys.py).
    COMMANDS = {*App.COMMANDS, BindingCommands}
    CSS_PATH = "app.tcss"
    #: Screens get -narrow below 100 columns, so stylesheets can fit an 80x24 SSH session.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help",
                tooltip="Help: every key of every screen, as bound now, with its binding id"),
        # Textual's own palette binding, with an id so [keymap] can move it ("palette" is the
        # word the footer has always shown for it).
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True,
                id="app.command_palette", tooltip="Command palette: find any action by name"),
    ]

    def __init__(self, store: Store, config: Config | None = None, *, operator: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.config = config or Config(path=None)
        self.operator = operator
        #: the signal that closed the screen (SIGTERM, SIGHUP), if one did
        self.stopped_by: int | None = None
        #: the theme and each store's last integration, client and filters (tui/state.py)
        self.ui_state = UiState()

    def on_mount(self) -> None:
        self._exit_on_stop_signals()
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
            for line in unknown_keymap_ids(self.config.keymap):
                self.notify(line, title="Config", severity="warning", timeout=10, markup=False)
        if self.config.theme:
            if self.config.theme in self.available_themes:
                self.theme = self.config.theme
            else:
                self.notify(f"unknown theme {self.config.theme!r} in the config; using the default",
                            severity="warning")
        # A theme chosen from the palette (ctrl+p, "Theme") is remembered and wins over
        # the config's: it is the operator's latest word.
        if self.ui_state.theme in self.available_themes:
            self.theme = self.ui_state.theme
        self.theme_changed_signal.subscribe(self, lambda theme: self.ui_state.set_theme(theme.name))
        self.push_screen(OverviewScreen(self.store, self.config, operator=self.operator))
        # What start-up built (modules, widgets, styles) lives as long as the app: keep it out
        # of the garbage collector's full passes, which otherwise pause a keystroke's repaint
        # by up to ~35 ms on the 2-core benchmark machine (benchmarks/RESULTS.md, filter p95).
        self.call_after_refresh(gc.freeze)

    def _exit_on_stop_signals(self) -> None:
        """SIGTERM and SIGHUP close the screen as q does, so Textual gives the terminal back
        (see syncview.signals); a running sync is stopped after its page and recorded."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, self._stop_on_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or not Unix
                return

    def _stop_on_signal(self, signum: int) -> None:
        self.stopped_by = signum
        for worker in self.workers:
            worker.cancel()  # the sync worker stops at its next page and records the run
        self.exit(return_code=128 + signum)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notice, whoever sends it (a screen, a widget, a worker thread), as plain text.

        Notices carry names and error messages from outside, so they are never read as markup
        (``markup`` is ignored) and what a terminal would act on is escaped; a notice is cut at
        :data:`NOTICE_LIMIT` characters, the title at 80.
        """
        super().notify(printable(str(message), limit=NOTICE_LIMIT), title=printable(str(title), limit=80),
                       severity=severity, timeout=timeout, markup=False)

    @on(WorkFailed)
    def _work_failed(self, message: WorkFailed) -> None:
        """Every worker's failure, from any screen or widget, ends here (tui/work.py): one line
        that says what is wrong, and the error in the log."""
        title, line = failure_line(message.what, message.error)
        self.log.error(message.what, repr(message.error))
        self.notify(line, title=title, severity="error", timeout=8 if title == "Not done" else 10)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(help_sections(self.config.keymap)))

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save an SVG of the screen (the palette's "Screenshot") and say where.

        Textual saves to ~/Downloads and fails without it (a server, a container); this
        saves to the first of Downloads, the user state directory and the current directory
        that can be written, and names the file.
        """
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        candidates = [Path(path).expanduser()] if path else screenshot_directories()
        for directory in candidates:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                saved = self.save_screenshot(filename, str(directory), time_format)
            except OSError:
                continue
            self.notify(f"Screenshot saved to {saved}", title="Screenshot", timeout=8)
            return saved
        self.notify("Screenshot not saved: none of " + ", ".join(str(d) for d in candidates) + " can be written",
                    title="Screenshot", severity="error", timeout=10)
        return None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, OverviewScreen):
            for column in columns.SHOWN:
                yield SystemCommand(f"Sort by {column.label.lower()}", "Order the table by this column",
                                    lambda key=column.key: screen.table.set_sort(key))
