"""The demo connector: a deterministic mirror of one integration of the demo world."""

from __future__ import annotations

import json

import pytest

from syncview.config import settings_schema_for
from syncview.connectors import registry
from syncview.connectors.base import payload_text
from syncview.connectors.demo import DemoConnector
from syncview.demo import INTEGRATIONS, DemoWorld
from syncview.domain import RemoteItem
from syncview.errors import ConfigError


def items(connector: DemoConnector) -> list[RemoteItem]:
    return [item for page in connector.fetch() for item in page.items]


def test_it_is_registered_by_entry_point_with_the_documented_settings():
    assert registry.load("demo") is DemoConnector
    assert DemoConnector.title == "Demo MSP"
    assert {s.name for s in settings_schema_for("demo")} == {"flavour", "resources", "seed"}
    assert not any(s.required and s.default is None for s in DemoConnector.settings_schema)


@pytest.mark.parametrize("flavour", ["psa", "rmm"])
def test_it_yields_the_worlds_resources_of_its_flavour_still_present_remotely(flavour):
    world = [res for client in DemoWorld(2_000, seed=3) for res in client.resources]
    name = next(n for n, f in INTEGRATIONS.items() if f == flavour)
    expected = [r for r in world if r.integration == name and not r.deleted_remotely]

    got = items(DemoConnector(name, {"flavour": flavour, "resources": 2_000, "seed": 3}))

    assert [(i.type, i.external_id, i.name, i.remote_company) for i in got] == \
        [(r.type, r.external_id, r.name, r.remote_company) for r in expected]
    assert len(got) < len(world)


def test_payloads_are_stored_exactly_as_the_seeder_stores_them():
    res = next(r for c in DemoWorld(500) for r in c.resources if r.integration == "Datto RMM")
    item = items(DemoConnector("Datto RMM", {"flavour": "rmm", "resources": 500}))[0]
    assert payload_text(item.payload) == json.dumps({"id": res.external_id, **res.payload}, separators=(",", ":"))


def test_same_settings_same_items_other_seed_other_items():
    settings = {"flavour": "psa", "resources": 1_000, "seed": 11}
    assert items(DemoConnector("A", settings)) == items(DemoConnector("B", settings))
    assert items(DemoConnector("A", {**settings, "seed": 12})) != items(DemoConnector("A", settings))


def test_pages_are_full_but_the_last():
    connector = DemoConnector("Datto RMM", {"flavour": "rmm", "resources": 3_000})
    connector.page_size = 250
    sizes = [len(page.items) for page in connector.fetch()]
    assert all(size == 250 for size in sizes[:-1]) and 0 < sizes[-1] <= 250
    assert sum(sizes) == len(items(DemoConnector("Datto RMM", {"flavour": "rmm", "resources": 3_000})))


def test_defaults_apply_when_settings_are_left_out():
    connector = DemoConnector("Demo", {})
    assert (connector.flavour, connector.resources, connector.seed) == ("psa", 5_000, 7)


@pytest.mark.parametrize(("settings", "message"), [
    ({"flavour": "crm"}, 'flavour must be "psa" or "rmm"'),
    ({"resources": 3}, "resources must be a whole number of at least 16"),
    ({"resources": "many"}, "resources must be a whole number"),
])
def test_bad_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        DemoConnector("Demo", settings)


@pytest.mark.parametrize("flavour", ["psa", "rmm"])
def test_items_carry_the_worlds_identity_keys(flavour):
    name = next(n for n, f in INTEGRATIONS.items() if f == flavour)
    expected = {r.external_id: r.keys for c in DemoWorld(2_000, seed=3) for r in c.resources
                if r.integration == name and not r.deleted_remotely}
    got = items(DemoConnector(name, {"flavour": flavour, "resources": 2_000, "seed": 3}))
    assert {i.external_id: i.keys for i in got} == expected
    assert sum(1 for i in got if i.keys) > len(got) / 2
