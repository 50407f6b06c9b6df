"""Items holding text no store can keep are skipped by name, the rest of the page kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncview.connectors.base import Page, payload_text, storable
from syncview.domain import IdentityKeys, RemoteItem, ResourceType

HALF = "\ud83d"  # half an emoji, as a UTF-16 API cuts it


def _item(external_id: str, **fields: object) -> RemoteItem:
    return RemoteItem(ResourceType.DEVICE, external_id, str(fields.pop("name", "PC-01")), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "label"), [
    ({"name": f"PC{HALF}"}, "name"),
    ({"remote_company": f"Acme{HALF}"}, "company"),
    ({"keys": IdentityKeys(serial=f"SN{HALF}")}, "serial"),
    ({"keys": IdentityKeys(macs=("aa:bb:cc:dd:ee:ff", f"x{HALF}"))}, "MAC"),
    ({"payload": {"nested": [{"deep": f"a{HALF}"}]}}, "payload"),
    ({"payload": {f"key{HALF}": 1}}, "payload"),
])
def test_an_item_with_a_lone_surrogate_is_skipped_and_named(fields: dict[str, object], label: str) -> None:
    page = storable(Page([_item("1"), _item("2", **fields), _item("3")]))
    assert [item.external_id for item in page.items] == ["1", "3"]
    (warning,) = page.warnings
    assert "skipped" in warning and f"its {label} holds a lone surrogate" in warning


@pytest.mark.parametrize("payload", [
    {"name": "Café 😀 Zürich", "list": ["ü", 1, 2.5, None, True]},
    {"when": datetime(2026, 1, 1, tzinfo=UTC), "tags": {"a", f"b{HALF}"}},  # what JSON cannot hold is not text
    {("tuple", "key"): "value"},  # a payload JSON cannot encode is checked field by field
])
def test_items_that_encode_are_kept(payload: dict[object, object]) -> None:
    page = storable(Page([_item("1", payload=payload, name="Ünïcode 😀")]))
    assert len(page.items) == 1 and page.warnings == []


@pytest.mark.parametrize("payload", [
    {"name": "PC-01", "n": 3, "ok": True, "none": None, "list": [1.5, "x"], "nested": {"a": "b"}},
    {"quote": 'a"b\\c', "controls": "\n\t\x00\x1f", "del": "\x7f"},
    {"when": datetime(2026, 1, 1, tzinfo=UTC)},
    {"name": "Café 😀"},
])
def test_the_payload_text_it_hands_on_is_the_stored_text(payload: dict[str, object]) -> None:
    item = _item("1", payload=payload)
    payloads: dict[int, str] = {}
    page = storable(Page([item]), payloads)
    assert page.items == [item]
    # Handed on or not (text outside ASCII is encoded by the engine), never different.
    assert payloads.get(id(item), payload_text(payload)) == payload_text(payload)


def test_an_ascii_payload_is_encoded_once() -> None:
    item = _item("1", payload={"name": "PC-01", "serial": "5CG7"})
    payloads: dict[int, str] = {}
    storable(Page([item]), payloads)
    assert payloads == {id(item): '{"name":"PC-01","serial":"5CG7"}'}
