"""How the screen does blocking work (SQLite, HTTP, files), in one style, and where its failures go.

- Work runs in a ``@work(thread=True, exit_on_error=False, description=...)`` method of the screen
  or widget it is for. The description says what it does ("reading the integration"): a failure's
  line names it.
- A worker hands back what it found by posting a small dataclass message to its own node (the
  node handles it on the screen's thread). It never touches a widget and never calls back into
  the screen's thread by other means (no ``call_from_thread``).
- A message that a newer one makes moot (progress, a count) says so in ``can_replace``: a flood
  of them collapses to the latest before the screen spends a repaint on each.
- A worker that fails simply raises: no worker catches ``Exception``. Textual sets the worker's
  state to ERROR and tells its node (``Worker.StateChanged``, which does not bubble); the node's
  ``on_worker_state_changed`` is :func:`forward_failure`, which posts :class:`WorkFailed`. That
  bubbles up to the app, whose one handler (``SyncviewApp._work_failed``) shows one clear line
  (:func:`failure_line`) and logs it. A node that also shows a failure in place (a subtitle, a
  placeholder) handles :class:`WorkFailed` as well and lets it go on up.

tests/tui/test_worker_style.py holds this shape: it fails on a `call_from_thread`, a `run_worker`,
a catch-all inside a worker, or a class that runs workers without forwarding their failures.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker, WorkerState

from syncview.errors import SyncviewError
from syncview.redaction import redact


@dataclass
class WorkFailed(Message):
    """A worker of the node that posted it failed; bubbles to the app, which shows it."""

    #: what the worker was doing ("reading the integration"): its description
    what: str
    error: Exception
    #: the worker's group ("sync", "actions", ...), for a node that reacts in place
    group: str


def failure_line(what: str, error: Exception) -> tuple[str, str]:
    """The title and the one line an operator sees for a failure.

    A :class:`SyncviewError` already says what is wrong and what to do: shown as it is, under
    "Not done". Anything else is a bug or an accident: "what failed: its type: its message"
    under "Unexpected error", with secrets masked (an exception may quote a request).
    """
    if isinstance(error, SyncviewError):
        return "Not done", str(error)
    return "Unexpected error", redact(f"{what} failed: {type(error).__name__}: {error}")


def forward_failure(node: DOMNode, event: Worker.StateChanged) -> None:
    """``on_worker_state_changed`` of every node that runs workers: a worker that ended in
    error becomes a :class:`WorkFailed` that bubbles from ``node`` to the app."""
    worker = event.worker
    if event.state is WorkerState.ERROR and isinstance(worker.error, Exception):
        node.post_message(WorkFailed(worker.description or worker.name, worker.error, worker.group))
