"""Remote data is untrusted: names may hold terminal escape sequences, bidi overrides, half an
emoji, or run for pages. :func:`printable` is the one way such text is made fit to show, for
the CLI's lines and tables and for the screen (the TUI wraps it in ``tui/text.py``: ``shown``).
"""

from __future__ import annotations

#: Longest name shown whole on screen; the store keeps the full value.
SCREEN_LIMIT = 200


def printable(text: str, *, limit: int | None = None) -> str:
    """``text`` with every non-printable character as a visible escape, cut to ``limit`` chars.

    Non-printable is what :meth:`str.isprintable` says: control characters (the ``\\x1b]52;...``
    that would drive the operator's terminal), format characters (bidi marks and overrides
    such as U+202E that reorder what the reader sees), line separators, lone surrogates and
    unassigned code points. Each becomes ``\\xNN`` (first 256 code points), ``\\uNNNN`` or
    ``\\UNNNNNNNN``, so an escape can't be read as two characters. Applying it twice changes
    nothing more. The cut keeps a 10 MB name from stalling a repaint.
    """
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
