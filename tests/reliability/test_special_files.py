"""Paths that are not plain files: a named pipe, a link. Writing must never replace the node itself.

A rename into place (how exports and backups avoid half-written files) would swap a pipe or a
device such as ``/dev/stdout`` for a plain file; as root it would do so in ``/dev``. Exports
write into such a path instead; backups, restores and the store refuse it in one line; a link
is kept and the file it names is what gets replaced. The tests use a pipe in their own
directory, never a real device.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tests.reliability.support import content, invoke


@pytest.fixture
def pipe(tmp_path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def drain(path: Path) -> tuple[threading.Thread, list[bytes]]:
    """Read everything written to the pipe ``path``, in a thread (a pipe blocks its writer without a reader)."""
    got: list[bytes] = []

    def read() -> None:
        with path.open("rb") as handle:
            got.append(handle.read())
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, got


def test_an_export_into_a_pipe_writes_into_it_and_leaves_it_a_pipe(demo_db, pipe):
    reader, got = drain(pipe)
    result = invoke("--db", demo_db, "export", "--format", "csv", "-o", pipe).ok()
    reader.join(10)
    assert got and got[0].startswith(b"id,integration_id,type,")
    assert result.stderr.startswith("Exported ")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_an_export_through_a_link_replaces_the_file_and_keeps_the_link(demo_db, tmp_path):
    real = tmp_path / "exports" / "today.json"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    invoke("--db", demo_db, "export", "--format", "json", "-o", link).ok()
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("[")


@pytest.mark.parametrize("command", ["backup", "restore", "status", "doctor"])
def test_a_pipe_is_refused_as_a_backup_a_store_or_a_store_to_restore_into(demo_db, pipe, command):
    before = content(demo_db)
    if command == "backup":
        line = invoke("--db", demo_db, "backup", pipe, "--force").error_line()
        assert line == f"syncview: error: {pipe} is not a regular file; give the path of the backup file to write"
    elif command == "restore":
        line = invoke("--db", pipe, "restore", demo_db).error_line()
        assert line == f"syncview: error: {pipe} is not a regular file; point --db at the store file to restore into"
    elif command == "doctor":
        result = invoke("--db", pipe, "doctor", "--offline")
        assert result.code == 1
        assert f"✗ store: {pipe}: is not a regular file (a device or a pipe); point --db at a store file" in \
            result.stdout.splitlines()
    else:
        line = invoke("--db", pipe, "status").error_line()
        assert line == (f"syncview: error: {pipe} is not a regular file (a device or a pipe); give the path of a "
                        "store file")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert content(demo_db) == before


def test_a_restore_through_a_linked_store_replaces_the_file_and_keeps_the_link(demo_db, tmp_path):
    real = tmp_path / "disk2" / "store.db"
    real.parent.mkdir()
    real.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)  # unreadable: replaced by a rename
    link = tmp_path / "store.db"
    link.symlink_to(real)
    invoke("--db", link, "restore", demo_db).ok()
    assert link.is_symlink() and content(real) == content(demo_db)
