"""Rendering for terminals, spreadsheets and scripts: exact values, nothing executable."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from syncview.domain import ResourceType, SyncStatus
from syncview.render import dumps, inert, jsonable, write_csv, write_json
from syncview.safe_text import printable
from syncview.services.queries import ResourceRow


#: The exports' columns as scripts read them: written out here, not taken from the constant the
#: exporter writes them from, so a change of the format is a change someone makes on purpose.
EXPORT_HEADER = ("id,integration_id,type,external_id,name,status,record_id,record_name,record_disabled,"
                 "remote_company,client_id,client_name,last_seen,deleted_remotely,version,updated_by,updated_at,"
                 "matched_on,reason,reason_kind")


def row(**changes) -> ResourceRow:
    values = dict(
        id=7, integration_id=1, type=ResourceType.DEVICE, external_id="10007", name="ACME-WS-007",
        status=SyncStatus.MATCHED, record_id=3, record_name="ACME-WS-007", record_disabled=False,
        remote_company="Acme Corp", client_id=1, client_name="Acme Corp",
        last_seen=datetime(2026, 11, 1, 9, 30, tzinfo=UTC), deleted_remotely=False, version=1,
        updated_by=None, updated_at=None, matched_on="serial", reason=None, reason_kind=None,
    )
    return ResourceRow(**{**values, **changes})


@pytest.mark.parametrize(("text", "expected"), [
    ("ACME Corp", "ACME Corp"),
    ("Café Zoë", "Café Zoë"),
    ("bell\x07", "bell\\x07"),
    ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),
    ("csi\x9b31m", "csi\\x9b31m"),
    ("rtl\u202eexe.pdf", "rtl\\u202eexe.pdf"),
    ("line\nbreak\ttab", "line\\x0abreak\\x09tab"),
    ("half \ud83d emoji", "half \\ud83d emoji"),  # a lone surrogate: shown, never a crash
    ("marks\u200e\u200f\u061c", "marks\\u200e\\u200f\\u061c"),
    ("[b]markup[/b] stays", "[b]markup[/b] stays"),  # escaping markup is the screen's job, not this
])
def test_printable_escapes_what_a_terminal_would_act_on(text, expected):
    assert printable(text) == expected
    assert printable(expected) == expected  # twice changes nothing more


def test_json_output_escapes_bidi_marks_and_lone_surrogates_but_keeps_the_values():
    value = {"name": "a\u200eb\u200fc\u061cd\ud83d", "ok": "Café ✓"}
    text = dumps(value)
    assert "\u200e" not in text and "\u200f" not in text and "\u061c" not in text and "\ud83d" not in text
    assert "Café ✓" in text
    assert json.loads(text) == value
    text.encode("utf-8")  # writable to a UTF-8 stream


@pytest.mark.parametrize(("text", "expected"), [
    ("=1+1", "'=1+1"),
    ("+31 20 555", "'+31 20 555"),
    ("-cmd", "'-cmd"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "\\x09=1"),  # escaped first, so no longer a formula start
    ("Acme - HQ", "Acme - HQ"),
    ("", ""),
])
def test_inert_quotes_formula_starts(text, expected):
    assert inert(text) == expected


def test_jsonable_turns_dataclasses_enums_and_times_into_plain_values():
    @dataclass
    class Thing:
        status: SyncStatus
        when: datetime
        counts: dict

    value = Thing(SyncStatus.NOT_SYNCED, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), {ResourceType.SITE: 2})
    assert jsonable(value) == {"status": "not_synced", "when": "2026-01-02T03:04:00+00:00", "counts": {"site": 2}}


def test_dumps_keeps_the_value_but_escapes_terminal_controls():
    value = {"name": "Zoë\x9b31m\u202e\x1b", "n": 1}
    text = dumps(value)
    assert "\x9b" not in text and "\u202e" not in text and "\x1b" not in text
    assert "Zoë" in text  # readable non-ASCII stays as is
    assert json.loads(text) == value


def test_csv_has_a_header_inert_cells_and_json_style_booleans():
    out = io.StringIO()
    count = write_csv([row(), row(id=8, name="=HYPERLINK(\"x\")", deleted_remotely=True, record_id=None)], out)
    lines = out.getvalue().splitlines()
    assert count == 2
    assert lines[0] == EXPORT_HEADER
    assert lines[1].startswith("7,1,device,10007,ACME-WS-007,matched,3,ACME-WS-007,false,")
    assert lines[2].startswith("8,1,device,10007,\"'=HYPERLINK(\"\"x\"\")\",matched,,")
    assert ",true,1,," in lines[2]


def test_json_export_streams_one_object_per_line_and_parses_back():
    out = io.StringIO()
    assert write_json([row(), row(id=8, name="Zoë\x1b")], out) == 2
    text = out.getvalue()
    assert "\x1b" not in text
    parsed = json.loads(text)
    assert [r["id"] for r in parsed] == [7, 8] and parsed[1]["name"] == "Zoë\x1b"
    assert list(parsed[0]) == EXPORT_HEADER.split(",")
    assert len(text.splitlines()) == 4  # "[", two objects, "]"


def test_an_empty_json_export_is_an_empty_array():
    out = io.StringIO()
    assert write_json([], out) == 0
    assert json.loads(out.getvalue()) == []
