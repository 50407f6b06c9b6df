"""Fetching several pages and lists at once while the sync engine still sees them in order.

Two tools, both on threads (``httpx.Client`` is thread-safe, and every request still goes
through the integration's limiter, which bounds what is in flight and how fast):

- :func:`ordered` runs calls (one page each) on a few threads and yields their results in
  the order given, keeping a bounded number ahead: the next pages are in flight while the
  engine writes the one in hand.
- :class:`Prefetch` runs a whole iterator (one list) on a thread of its own into a bounded
  buffer, so that several lists are fetched at once and read one after the other.
- :func:`interleaved` runs several iterators (parts of one list whose order does not matter,
  such as id ranges of one query) each on a thread of its own, and yields their items as they
  come.

Either stops cleanly when its consumer stops (a sync cancelled, a failure, Ctrl-C or
SIGTERM): calls not yet started are dropped, those in flight are waited for and their
results dropped, and nothing reaches the engine out of order. An error raised
by a call reaches the consumer in its place in the order.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


def ordered(calls: Iterable[Callable[[], T]], *, workers: int,
            ahead: int | None = None) -> Generator[T, None, None]:
    """The results of ``calls``, in their order, run on up to ``workers`` threads.

    At most ``ahead`` (default twice ``workers``) calls are started and not yet handed on,
    which bounds memory. ``calls`` is read lazily, in the consumer's thread.
    """
    workers = max(1, workers)
    ahead = max(workers, ahead or 2 * workers)
    pending: deque[Future[T]] = deque()
    source = iter(calls)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="syncview-fetch")
    try:
        for call in source:
            pending.append(executor.submit(call))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().result()
            following = next(source, None)
            if following is not None:
                pending.append(executor.submit(following))  # before handing on: it runs while the page is written
            yield result
    finally:
        # Calls not started are dropped; those in flight are waited for (each bounded by the HTTP
        # layer's deadline), so that nothing still runs on the client once the consumer closes it.
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


_END = object()
#: Longest wait for a prefetching thread to end once stopped (its request in flight has its own deadline).
JOIN_TIMEOUT = 150.0


class Prefetch(Generic[T]):
    """Iterate ``source`` on a thread of its own from now on, keeping up to ``buffer`` items ready.

    Iterating the Prefetch yields the source's items in order (and raises its error where it
    raised it); :meth:`close` (or the end of a ``with`` block) stops the thread at its next item.
    """

    def __init__(self, source: Iterable[T], *, buffer: int = 4, name: str = "syncview-prefetch") -> None:
        self._queue: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=max(1, buffer))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _put(self, entry: tuple[object, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self, source: Iterable[T]) -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not self._put((item, None)):
                    return
            self._put((_END, None))
        except BaseException as error:  # handed to the consumer, raised there in its place
            self._put((_END, error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item, error = self._queue.get()
                if error is not None:
                    raise error
                if item is _END:
                    return
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        """Stop fetching and wait for the thread to end (a request in flight finishes first), so
        that nothing still runs on the client once the caller closes it."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=JOIN_TIMEOUT)

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def interleaved(sources: Sequence[Iterable[T]], *, buffer: int = 4,
                name: str = "syncview-interleaved") -> Iterator[T]:
    """The items of every source, each source read on a thread of its own, in the order they come
    (a source's own items stay in their order); up to ``buffer`` items wait to be handed on.

    An error raised by a source reaches the consumer when it comes; stopping the consumer (or an
    error) stops every thread at its next item and waits for them, as :class:`Prefetch` does.
    """
    ready: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=max(1, buffer))
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump(source: Iterable[T]) -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as error:  # handed to the consumer, raised there when it comes
            put((_END, error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    threads = [threading.Thread(target=pump, args=(source,), name=f"{name}-{number}", daemon=True)
               for number, source in enumerate(sources, start=1)]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                running -= 1
                continue
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=JOIN_TIMEOUT)
