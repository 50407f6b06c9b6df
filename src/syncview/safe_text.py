"""Remote data is untrusted: names may hold terminal escape sequences or run for pages."""

from __future__ import annotations

#: Longest name shown whole on screen; the store keeps the full value.
SCREEN_LIMIT = 200


def printable(text: str, *, limit: int | None = None) -> str:
    """``text`` with control characters as visible ``\\xNN`` escapes, cut to ``limit`` chars.

    Escapes are what stops a hostile ``\\x1b]52;...`` in a device name from driving the
    operator's terminal; the cut keeps a 10 MB name from stalling a repaint.
    """
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
