"""Secret values known to this process, and masking them out of anything shown or stored.

Secrets are resolved at use (:func:`syncview.config.resolve_secret`) and every value
resolved, or learnt later (an OAuth token, an encoded credential header), is
remembered here. Whatever leaves the process through a path that did not redact on
its own — an unexpected exception's one line, the crash report's traceback, a failed
sync's message in the store — goes through :func:`redact` first.

No Textual, no httpx: the CLI, the services and the connectors all use it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"


class Redactor:
    """Replaces known secret values with ``***`` in any text.

    Secrets are added as they become known (settings at start, tokens when
    fetched), from any thread. Each secret is also masked in the encoded forms it
    takes on the wire (URL-quoted, form-quoted), and the longest match wins so a
    token containing another secret is masked whole. A redactor with a ``parent``
    passes what it learns on, so the process-wide one knows every connector's.
    """

    def __init__(self, secrets: Iterable[str | None] = (), *, parent: Redactor | None = None,
                 shortest: int = 1) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._parent = parent
        self._shortest = shortest
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Learn a secret value; values shorter than ``shortest`` and non-strings are ignored."""
        if not isinstance(secret, str) or len(secret) < max(1, self._shortest):
            return
        if self._parent is not None:
            self._parent.add(secret)
        forms = {secret, secret.strip(), quote(secret, safe=""), quote_plus(secret)} - {""}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def __call__(self, text: object) -> str:
        """``text`` as a string with every known secret masked."""
        text = str(text)
        pattern = self._pattern  # read once: add() may swap it from another thread
        return pattern.sub(MASK, text) if pattern is not None else text

    redact = __call__

    def clear(self) -> None:
        """Forget every secret (for tests that run many configurations in one process)."""
        with self._lock:
            self._secrets.clear()
            self._pattern = None


#: Every secret this process has resolved or learnt. Not the very short ones: a value of a few
#: characters masked in every message would garble them all (a connector still masks it in its own).
PROCESS = Redactor(shortest=6)


def remember(secret: str | None) -> None:
    """Add a secret value to the process-wide set masked by :func:`redact`."""
    PROCESS.add(secret)


def redact(text: object) -> str:
    """``text`` with every secret this process knows masked as ``***``."""
    return PROCESS(text)
