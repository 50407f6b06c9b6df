"""Identity keys: one value in any notation is one key; placeholders are no key."""

from __future__ import annotations

import pytest

from syncview import identity
from syncview.domain import IdentityKeys, ResourceType
from syncview.identity import DEFAULT_IDENTITY, IdentityRules, KeyKind

DEVICE, CONTACT = ResourceType.DEVICE, ResourceType.CONTACT


@pytest.mark.parametrize("raw", ["AA:BB:CC:DD:EE:0F", "aa-bb-cc-dd-ee-0f", "aabb.ccdd.ee0f", "AABBCCDDEE0F",
                                 " aa bb cc dd ee 0f "])
def test_a_mac_in_any_notation_is_the_same_48_bits(raw):
    assert identity.normalise_mac(raw) == "aa:bb:cc:dd:ee:0f"


@pytest.mark.parametrize("raw", ["", "aa:bb:cc", "zz:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:00", None])
def test_what_is_not_48_bits_of_hex_is_no_mac(raw):
    assert identity.normalise_mac(raw) is None


@pytest.mark.parametrize("mac", ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fb", "33:33:00:00:00:01",
                                 "02:00:4c:4f:4f:50", "00:05:9a:3c:7a:00"])
def test_zero_broadcast_multicast_and_listed_virtual_macs_are_placeholders(mac):
    assert DEFAULT_IDENTITY.mac_is_placeholder(mac)


def test_a_real_mac_is_not_a_placeholder():
    assert not DEFAULT_IDENTITY.mac_is_placeholder("00:1a:2b:3c:4d:5e")


def test_serials_compare_without_case_or_surrounding_spaces():
    assert identity.normalise_serial("  5cg1234xyz ") == identity.normalise_serial("5CG1234XYZ") == "5CG1234XYZ"
    assert identity.normalise_serial("   ") is None


@pytest.mark.parametrize("serial", ["To Be Filled By O.E.M.", "TO BE FILLED BY OEM", "Default string",
                                    "System Serial Number", "0", "N/A", "None", "123456789", "Not Specified",
                                    "Chassis Serial Number", "00000000", "XXXXXXX", "A1", " n/a "])
def test_oem_and_filler_serials_are_placeholders(serial):
    assert DEFAULT_IDENTITY.serial_is_placeholder(identity.normalise_serial(serial))


@pytest.mark.parametrize("serial", ["5CG1234XYZ", "C02XK0ABJGH5", "VMware-56 4d 9a"])
def test_real_serials_are_not_placeholders(serial):
    assert not DEFAULT_IDENTITY.serial_is_placeholder(identity.normalise_serial(serial))


def test_the_config_adds_to_the_lists():
    rules = IdentityRules(extra_serials=("ASSET-TBD",), extra_macs=("00-11-22-33-44-55",))
    assert rules.serial_is_placeholder("asset-tbd".upper())
    assert rules.mac_is_placeholder("00:11:22:33:44:55")
    assert not DEFAULT_IDENTITY.serial_is_placeholder("ASSET-TBD")
    assert rules.serial_is_placeholder("DEFAULT STRING")  # the built-in ones still hold


@pytest.mark.parametrize("raw, expected", [("pc-01.corp.local", "PC-01"), ("PC-01", "PC-01"),
                                           (" pc-01. ", "PC-01"), ("10.0.0.12", None), ("", None)])
def test_a_hostname_is_compared_without_its_domain(raw, expected):
    assert identity.normalise_hostname(raw) == expected


def test_emails_compare_without_case_and_must_look_like_one():
    assert identity.normalise_email(" Ana.Brown@ACME.example ") == "ana.brown@acme.example"
    assert identity.normalise_email("mailto:x@y.example") == "x@y.example"
    assert identity.normalise_email("not an address") is None


def test_normalise_keeps_keys_and_refuses_placeholders():
    raw = IdentityKeys(serial="Default string", macs=("AA-BB-CC-DD-EE-01", "00:00:00:00:00:00", "junk"),
                       hostname="ws-7.acme.local", xrefs=("autotask:device:9",))
    found = DEFAULT_IDENTITY.normalise(raw, DEVICE, "Reception PC")
    assert found.keys.get(KeyKind.SERIAL) == frozenset()
    assert found.keys.get(KeyKind.MAC) == {"aa:bb:cc:dd:ee:01"}
    assert found.keys.get(KeyKind.HOST) == {"ws 7"}
    assert found.keys.get(KeyKind.XREF) == {"autotask:device:9"}
    assert found.refused == ("serial 'Default string' is a placeholder", "MAC 00:00:00:00:00:00 is a placeholder")


def test_a_device_named_by_its_domain_name_has_its_host_key():
    found = DEFAULT_IDENTITY.normalise(IdentityKeys(), DEVICE, "pc-01.corp.local")
    assert found.keys.get(KeyKind.HOST) == {"pc 01"}
    assert DEFAULT_IDENTITY.normalise(IdentityKeys(), CONTACT, "a.b.c").keys.get(KeyKind.HOST) == frozenset()
    # A host name that is the device's name adds nothing to it: the name rule compares names.
    assert DEFAULT_IDENTITY.normalise(IdentityKeys(hostname="PC-01"), DEVICE, "pc-01").keys.get(KeyKind.HOST) \
        == frozenset()


def test_keys_round_trip_through_the_stores_pairs():
    keys = DEFAULT_IDENTITY.normalise(IdentityKeys(serial="ABC123", email="a@b.example"), CONTACT, "A").keys
    assert identity.Keys.from_pairs(keys.pairs()) == keys
