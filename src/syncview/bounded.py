"""Bounded reading: every answer from outside (an HTTP body, a ``cmd:`` secret's output, the
config file) is read through here, so none can take unbounded memory or time.

A gzip bomb is 1 MB on the wire and 1 GB inflated, so an HTTP body is counted as it is decoded,
chunk by chunk, and refused at the limit rather than after; a file is checked to be a regular
file first (a FIFO would block forever, ``/dev/zero`` never ends); a command runs in its own
session without a terminal, and is killed when it outlives its time or says too much.
"""

from __future__ import annotations

import os
import selectors
import signal
import stat
import subprocess
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

#: Largest HTTP answer (decoded) syncview reads by default; config key ``max_response_bytes``.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Largest config file read.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
#: Largest output a ``cmd:`` secret reference may give.
MAX_COMMAND_BYTES = 1024 * 1024


class TooLarge(Exception):
    """An answer went over its limit; ``read`` is how much had been read when it was refused."""

    def __init__(self, limit: int, read: int) -> None:
        super().__init__(f"more than {size(limit)}")
        self.limit, self.read = limit, read


class TooSlow(Exception):
    """An answer did not end by its deadline."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(f"not finished within {seconds:g} s" if seconds else "not finished in time")
        self.seconds = seconds


def size(count: int) -> str:
    """A byte count as an operator reads it: "64 MiB", "512 KiB", "80 bytes"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count} bytes"


def bounded_chunks(chunks: Iterable[bytes], *, limit: int, deadline: float | None = None,
                   clock: Callable[[], float] = time.monotonic) -> Iterator[bytes]:
    """``chunks`` as they come, raising TooLarge once more than ``limit`` bytes came and TooSlow
    once the monotonic ``deadline`` passed (checked between chunks: each read is bounded by the
    transport's own timeout, the whole by this)."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise TooLarge(limit, total)
        if deadline is not None and clock() > deadline:
            raise TooSlow()
        yield chunk


#: Content-Encodings :func:`inflate` decodes itself, each a zlib window size (gzip, zlib or raw deflate).
INFLATABLE = {"": None, "identity": None, "gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16,
              "deflate": zlib.MAX_WBITS | 32}


def inflate(raw: Iterable[bytes], encoding: str, *, limit: int) -> Iterator[bytes]:
    """The decoded body from ``raw`` body bytes sent with Content-Encoding ``encoding`` (one of
    :data:`INFLATABLE`), never inflating more than ``limit`` + 1 bytes: TooLarge past ``limit``.

    A library decoder inflates each network chunk whole: 64 KB of a gzip bomb is 64 MB. Here
    every call to zlib is told how much it may give (``max_length``), so memory stays at the
    bound whatever the compression ratio. ValueError for a body that is not what it claims.
    """
    wbits = INFLATABLE[encoding]
    if wbits is None:
        yield from raw
        return
    decoder = zlib.decompressobj(wbits)
    total = 0
    try:
        for chunk in raw:
            data = chunk
            while data and not decoder.eof:
                out = decoder.decompress(data, limit + 1 - total)
                total += len(out)
                if total > limit:
                    raise TooLarge(limit, total)
                if out:
                    yield out
                data = decoder.unconsumed_tail
        tail = decoder.flush()
    except zlib.error as error:
        if encoding == "deflate" and total == 0 and wbits != -zlib.MAX_WBITS:
            raise ValueError(f"{encoding} body that zlib cannot read ({error}); raw deflate is not supported") from None
        raise ValueError(f"a {encoding} body that does not decode ({error})") from None
    if total + len(tail) > limit:
        raise TooLarge(limit, total + len(tail))
    if tail:
        yield tail


def read_file(path: Path, *, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    OSError as the file system gives it (missing, unreadable); ValueError with a reason for
    anything that is not a regular file (a FIFO, a device, a directory), and TooLarge.
    The check is made on the open file, so a link swapped in between cannot slip through, and
    the FIFO is opened without waiting for a writer.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(_kind(info.st_mode))
        if info.st_size > limit:
            raise TooLarge(limit, info.st_size)
        os.set_blocking(fd, True)
        data = bytearray()
        while len(data) <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - len(data)))
            if not chunk:
                return bytes(data)
            data += chunk
        raise TooLarge(limit, len(data))  # it grew while being read
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def run_command(argv: list[str], *, timeout: float, limit: int = MAX_COMMAND_BYTES) -> tuple[int, bytes]:
    """Run ``argv`` (no shell) and return its exit status and standard output.

    The child runs in a session of its own with no terminal and standard input from
    /dev/null: it cannot read the operator's keys through /dev/tty, and a signal to
    syncview's process group does not reach it. Its standard error is dropped (a secret
    tool may print the secret there too). Past ``timeout`` seconds (TooSlow) or ``limit``
    bytes of output (TooLarge) its whole process group is killed; it is never left running.
    FileNotFoundError and OSError come as Popen raises them.
    """
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    output = bytearray()
    assert process.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TooSlow(timeout)
                if not selector.select(left):
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                output += chunk
                if len(output) > limit:
                    raise TooLarge(limit, len(output))
        try:
            status = process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise TooSlow(timeout) from None
    except BaseException:
        _kill_group(process)
        raise
    finally:
        process.stdout.close()
    return status, bytes(output)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` and whatever it started (its session is its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()
