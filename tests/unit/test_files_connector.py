"""The files connector: CSV and JSON exports read page by page, with the documented column mapping."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from syncview.config import parse_config, settings_schema_for
from syncview.connectors import registry
from syncview.connectors.files import FilesConnector
from syncview.domain import RemoteItem, ResourceType
from syncview.errors import ConfigError, ConnectorError
from syncview.services.sync import sync_connector
from tests.helpers import rows

CSV = """\
id,name,type,company,serial
1,Acme Corp,client,Acme Corp,
10,ACME-WS-001,device,Acme Corp,SN-1
11,ACME-WS-002,Devices,Acme Corp,SN-2
20,Ana Brown,contact,Acme Corp,
"""


def write(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding=encoding)
    return path


def connector(path: Path, **settings) -> FilesConnector:
    return FilesConnector("Spreadsheet", {"path": str(path), **settings})


def fetch(conn: FilesConnector) -> tuple[list[RemoteItem], list[str]]:
    items, warnings = [], []
    for page in conn.fetch():
        items += page.items
        warnings += page.warnings
    return items, warnings


def test_it_is_registered_with_the_settings_the_config_example_documents():
    assert registry.load("files") is FilesConnector
    names = {s.name for s in settings_schema_for("files")}
    assert {"path", "format", "id_column", "name_column", "type_column", "company_column"} <= names
    required = [s.name for s in FilesConnector.settings_schema if s.required and s.default is None]
    assert required == ["path"]


def test_the_example_config_block_loads(tmp_path):
    config = parse_config(textwrap.dedent("""
        [[integrations]]
        name = "Spreadsheet"
        kind = "files"
        path = "~/exports/assets.csv"
        format = "csv"
        id_column = "id"
        name_column = "name"
        type_column = "type"
        company_column = "company"
    """))
    assert config.integration("Spreadsheet").settings["format"] == "csv"


def test_csv_rows_become_items_with_the_row_as_payload(tmp_path):
    items, warnings = fetch(connector(write(tmp_path, CSV)))

    assert warnings == []
    assert [(i.type, i.external_id, i.name, i.remote_company) for i in items] == [
        (ResourceType.CLIENT, "1", "Acme Corp", "Acme Corp"),
        (ResourceType.DEVICE, "10", "ACME-WS-001", "Acme Corp"),
        (ResourceType.DEVICE, "11", "ACME-WS-002", "Acme Corp"),  # "Devices": plural, any case
        (ResourceType.CONTACT, "20", "Ana Brown", "Acme Corp"),
    ]
    assert items[1].payload == {"id": "10", "name": "ACME-WS-001", "type": "device", "company": "Acme Corp",
                                "serial": "SN-1"}


def test_columns_are_mapped_by_the_settings_and_the_delimiter_is_detected(tmp_path):
    path = write(tmp_path, """\
        Asset ID;Hostname;Customer
        7;LAB-PC;Initech
        8;LAB-SRV;Initech
    """)
    items, _ = fetch(connector(path, id_column="Asset ID", name_column="Hostname", company_column="Customer",
                               type="device"))
    assert [(i.type, i.external_id, i.name, i.remote_company) for i in items] == [
        (ResourceType.DEVICE, "7", "LAB-PC", "Initech"), (ResourceType.DEVICE, "8", "LAB-SRV", "Initech")]


def test_a_bom_and_crlf_line_ends_are_fine(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid,name,type\r\n1,Acme,client\r\n".encode())
    items, warnings = fetch(connector(path))
    assert [(i.external_id, i.name, i.remote_company) for i in items] == [("1", "Acme", None)]
    assert warnings == ['the file has no column "company": items have no remote company, so only client items '
                        "can match (set company_column to the right one)"]


def test_bad_rows_are_skipped_with_their_row_number_and_why(tmp_path):
    path = write(tmp_path, """\
        id,name,type,company
        1,Acme,client,Acme
        ,No Id,device,Acme
        3,,device,Acme
        4,Printer,fax machine,Acme
        1,Acme again,client,Acme
        5,"Too, many",device,Acme,extra

        6,Fine,device,Acme
    """)
    items, warnings = fetch(connector(path))

    assert [i.external_id for i in items] == ["1", "6"]
    assert warnings == [
        'row 3 skipped: no id (column "id" is empty)',
        'row 4 skipped: id 3 has no name (column "name" is empty)',
        "row 5 skipped: 'Printer' has type 'fax machine'; expected one of client, site, device, contact",
        "row 6 skipped: client id 1 was already read at row 2",
        "row 7 skipped: has 5 fields but the header names 4",
    ]


def test_the_file_is_read_page_by_page(tmp_path):
    lines = ["id,name,type,company"] + [f"{n},WS-{n},device,Acme" for n in range(25)]
    conn = connector(write(tmp_path, "\n".join(lines) + "\n"))
    conn.page_size = 10
    pages = list(conn.fetch())
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert {p.entity for p in pages} == {"export.csv"}


def test_json_arrays_with_dotted_paths(tmp_path):
    data = [{"id": 42, "hostname": "SRV-1", "kind": "device", "site": {"company": {"name": "Globex"}}},
            {"id": 43.0, "hostname": "SRV-2", "kind": "device", "site": {"company": {"name": "Globex"}}},
            "not an object"]
    path = tmp_path / "assets.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    conn = connector(path, name_column="hostname", type_column="kind", company_column="site.company.name")
    items, warnings = fetch(conn)

    assert [(i.external_id, i.name, i.remote_company) for i in items] == [("42", "SRV-1", "Globex"),
                                                                         ("43", "SRV-2", "Globex")]
    assert items[0].payload == data[0]
    assert warnings == ["item 3 skipped: not an object but str"]


def test_json_lines_stream_and_report_bad_lines(tmp_path):
    path = write(tmp_path, """\
        {"id": "1", "name": "Acme", "type": "client"}
        {"id": "2", "name": oops}

        {"id": "3", "name": "Acme HQ", "type": "site", "company": "Acme"}
    """, name="assets.jsonl")
    items, warnings = fetch(connector(path))
    assert [i.external_id for i in items] == ["1", "3"]
    assert len(warnings) == 1 and warnings[0].startswith("line 2 skipped: is not valid JSON")


@pytest.mark.parametrize(("text", "name", "message"), [
    ("", "empty.csv", "is empty; it needs a header row"),
    ("   \n", "empty.json", "is empty; it should hold a JSON array"),
    ("[{", "broken.json", "is not valid JSON at line 1"),
    ("{\n  \"id\": 1\n}\n", "pretty.json", "is neither a JSON array nor JSON Lines"),
    ("ident,name,type\n1,a,client\n", "x.csv", 'has no column "id"; its columns are ident, name, type: set id_column'),
])
def test_unusable_files_are_connector_errors(tmp_path, text, name, message):
    with pytest.raises(ConnectorError, match=message.replace("(", r"\(")):
        fetch(connector(write(tmp_path, text, name=name)))


def test_a_missing_file_is_a_connector_error_naming_it(tmp_path):
    with pytest.raises(ConnectorError, match=r"the file .*nowhere\.csv does not exist; check path"):
        fetch(connector(tmp_path / "nowhere.csv"))


def test_a_file_that_is_not_utf8_is_a_connector_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,name,type\n1,Café Müller,client\n".encode("latin-1"))
    with pytest.raises(ConnectorError, match=r"is not UTF-8 text \(byte 0xe9 cannot be decoded\); export it again"):
        fetch(connector(path))


@pytest.mark.parametrize(("settings", "message"), [
    ({"path": "/x/export.xlsx"}, 'cannot tell the format of /x/export.xlsx from its name; set format = "csv"'),
    ({"path": "/x/export.csv", "format": "xml"}, 'format must be "csv" or "json"'),
    ({"path": "/x/export.csv", "type": "printer"}, "type: unknown resource type 'printer'"),
])
def test_bad_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        FilesConnector("Spreadsheet", settings)


def test_a_file_synced_into_a_store(store, tmp_path):
    report = sync_connector(store, connector(write(tmp_path, CSV + "x,Bad,gizmo,Acme\n")), create_missing=True)

    assert report.ok and report.counts.fetched == 4 and report.counts.warnings == 1
    assert rows(store, "SELECT type, name, status FROM resource ORDER BY id") == [
        ("client", "Acme Corp", "matched"), ("device", "ACME-WS-001", "matched"),
        ("device", "ACME-WS-002", "matched"), ("contact", "Ana Brown", "matched")]
    assert rows(store, "SELECT level FROM sync_log_entry WHERE message LIKE '%row 6 skipped%'") == [("warning",)]


def test_a_name_with_a_lone_surrogate_is_skipped_with_a_warning_and_the_rest_syncs(store, tmp_path):
    """Half an emoji ("\\ud83d" in JSON, as UTF-16 APIs cut them) cannot be stored in UTF-8:
    that one item is skipped, named in a warning, and every other item syncs, each time."""
    path = tmp_path / "assets.json"
    path.write_text('[{"id": 1, "name": "Acme Corp", "type": "client"},'
                    ' {"id": 2, "name": "ACME-WS-\\ud83d", "type": "device", "company": "Acme Corp"},'
                    ' {"id": 3, "name": "ACME-WS-3", "type": "device", "company": "Acme Corp",'
                    '  "notes": {"x\\udc00": 1}},'
                    ' {"id": 4, "name": "ACME-WS-\\ud83d\\ude00", "type": "device", "company": "Acme Corp"}]',
                    encoding="utf-8")
    for _ in range(2):  # the next sync is not blocked either
        report = sync_connector(store, connector(path), create_missing=True)
        assert report.ok and report.counts.warnings == 2
    assert sorted(rows(store, "SELECT external_id, name FROM resource")) == [
        ("1", "Acme Corp"), ("4", "ACME-WS-\U0001f600")]
    logged = [m for (m,) in rows(store, "SELECT message FROM sync_log_entry WHERE level = 'warning' ORDER BY id")]
    assert logged[:2] == [
        "Spreadsheet: skipped device 2 “ACME-WS-\\ud83d”: its name holds a lone surrogate (\\ud83d, half of a "
        "UTF-16 character) that cannot be stored; correct it in the product, the next sync picks it up",
        "Spreadsheet: skipped device 3 “ACME-WS-3”: its payload holds a lone surrogate (\\udc00, half of a "
        "UTF-16 character) that cannot be stored; correct it in the product, the next sync picks it up"]


# --- identity key columns --------------------------------------------------------------------------

KEYED = """\
id;name;type;company;serial;macs;host;mail
10;ACME-WS-001;device;Acme Corp;SN-1;AA:BB:CC:00:00:01, aa-bb-cc-00-00-02;acme-ws-001.corp.local;
11;ACME-WS-002;device;Acme Corp;To Be Filled By O.E.M.;;;
20;Ana Brown;contact;Acme Corp;;;;Ana.Brown@Acme.example
"""


def test_key_columns_give_serials_macs_host_names_and_emails_as_written(tmp_path):
    conn = connector(write(tmp_path, KEYED), serial_column="serial", mac_column="macs", hostname_column="host",
                     email_column="mail")
    items, warnings = fetch(conn)
    assert not warnings
    by_id = {i.external_id: i.keys for i in items}
    assert by_id["10"].serial == "SN-1"
    assert by_id["10"].macs == ("AA:BB:CC:00:00:01", "aa-bb-cc-00-00-02")
    assert by_id["10"].hostname == "acme-ws-001.corp.local"
    assert by_id["11"].serial == "To Be Filled By O.E.M."  # the core judges placeholders
    assert by_id["20"].email == "Ana.Brown@Acme.example" and not by_id["20"].serial


def test_key_columns_are_optional_and_one_set_must_exist(tmp_path):
    items, _ = fetch(connector(write(tmp_path, KEYED)))
    assert not any(i.keys for i in items)
    with pytest.raises(ConnectorError, match='has no column "serial_no".*set serial_column to the right one'):
        fetch(connector(write(tmp_path, KEYED), serial_column="serial_no"))


def test_key_fields_of_a_json_file_may_be_dotted_paths(tmp_path):
    path = write(tmp_path, json.dumps([{"id": 1, "name": "PC", "type": "device", "hw": {"serial": "X1",
                                                                                        "macs": "00:11:22:33:44:55"}}]),
                 "export.json")
    items, _ = fetch(connector(path, serial_column="hw.serial", mac_column="hw.macs"))
    assert (items[0].keys.serial, items[0].keys.macs) == ("X1", ("00:11:22:33:44:55",))
