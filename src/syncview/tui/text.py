"""The one place where text from outside (a product, a file, the store, the config) becomes
screen text.

Textual and Rich read a ``str`` given to ``Static``, ``Label``, ``DataTable.add_row``, a
``Select`` option, a border title or a notification as markup: a device named
``Workstation [/]`` crashes the widget, ``[DECOM] Server01`` loses its tag and
``[@click=app.quit]`` becomes a live action. A :class:`rich.text.Text` is never parsed, so
every such value reaches a widget as ``shown(value)``: a Text of the value's characters, with
what a terminal would act on escaped (see :func:`syncview.safe_text.printable`).
Notifications go through :meth:`SyncviewApp.notify`, which does the same for every caller.
``tests/tui/test_screen_text.py`` fails when a widget is given text any other way.
"""

from __future__ import annotations

from rich.text import Text

from syncview.safe_text import SCREEN_LIMIT, printable

__all__ = ["SCREEN_LIMIT", "shown"]


def shown(value: object, *, limit: int | None = SCREEN_LIMIT, style: str = "") -> Text:
    """``value`` as screen text: never markup, non-printable characters escaped, cut to ``limit``.

    Give it whole sentences too (``shown(f"{name} is not excluded")``): the literal words are
    plain text either way, and one Text is simpler than an assembly.
    """
    return Text(printable(str(value), limit=limit), style=style, end="")
