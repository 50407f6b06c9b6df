"""What identifies an item besides its name: normalised identity keys, and what is not one.

Connectors copy the raw values their product sends (:class:`~syncview.domain.IdentityKeys`);
this module decides what they mean. Two values that name the same thing in different
notations normalise to the same key (``AA-BB-CC-DD-EE-FF`` and ``aabb.ccdd.eeff``;
``pc-01.corp.local`` and ``PC-01``), and a value that names nothing in particular (an OEM
placeholder serial, an all-zero MAC) is no key at all.

The placeholder lists live here and nowhere else; the config's ``[identity]`` section adds
to them (:class:`IdentityRules`). Values shared by several items are found by the sync
engine, which has the data (see :mod:`syncview.services.matching`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from syncview.domain import IdentityKeys, ResourceType, normalise_name


class KeyKind(StrEnum):
    """A kind of identity key, as the store's key tables and the ``match_on`` setting name it."""

    XREF = "xref"
    SERIAL = "serial"
    MAC = "mac"
    EMAIL = "email"
    #: a device's host name without its domain, in :func:`~syncview.domain.normalise_name` form
    HOST = "host"

    @property
    def label(self) -> str:
        return {"xref": "cross-reference", "mac": "MAC", "email": "e-mail", "host": "host name"}.get(
            self.value, self.value)


#: Serial numbers firmware and vendors fill in when nobody set one. Compared in
#: :func:`_squash` form (letters and digits only, any case), so "To be filled by O.E.M."
#: and "TO BE FILLED BY OEM" are one entry.
PLACEHOLDER_SERIALS: tuple[str, ...] = (
    "To Be Filled By O.E.M.",
    "Default string",
    "System Serial Number",
    "Chassis Serial Number",
    "Base Board Serial Number",
    "Serial Number",
    "SerialNumber",
    "0",
    "N/A",
    "NA",
    "None",
    "Null",
    "Not Specified",
    "Not Applicable",
    "Not Available",
    "Unknown",
    "Default",
    "OEM",
    "Invalid",
    "Empty",
    "123456789",
    "1234567890",
    "0123456789",
    "12345678",
    "System Product Name",
)
#: Serials shorter than this (after trimming) identify nothing: "1", "A1", "001".
MIN_SERIAL_LENGTH = 4
#: MACs every machine with some virtual adapter carries: the Microsoft loopback adapter,
#: Cisco AnyConnect's virtual adapter, the Windows RAS async adapter and VMware
#: Workstation's VMnet1/VMnet8 host adapters. All-zero, broadcast and multicast addresses
#: are refused by rule (:func:`mac_is_placeholder`), not listed.
PLACEHOLDER_MACS: tuple[str, ...] = (
    "02:00:4c:4f:4f:50",
    "00:05:9a:3c:7a:00",
    "20:41:53:59:4e:ff",
    "00:50:56:c0:00:01",
    "00:50:56:c0:00:08",
)
#: Host names that name no machine.
PLACEHOLDER_HOSTS: tuple[str, ...] = ("localhost", "localhost.localdomain", "unknown", "none")

_SQUASH = re.compile(r"[^0-9a-z]+")
_MAC_SEPARATORS = re.compile(r"[\s:\-.]+")
_HEX12 = re.compile(r"[0-9a-f]{12}")
_MAC_CANONICAL = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _squash(text: str) -> str:
    return _SQUASH.sub("", text.casefold())


def normalise_serial(raw: str | None) -> str | None:
    """A serial number as keys compare it: surrounding spaces dropped, upper case; None if empty."""
    if raw is None:
        return None
    value = str(raw).strip().upper()
    return value or None


def normalise_mac(raw: str | None) -> str | None:
    """A MAC address in one notation (``aa:bb:cc:dd:ee:ff``), whatever it was written in
    (``AA:BB:..``, ``aa-bb-..``, ``aabb.ccdd.eeff``, bare hex); None if it is not 48 bits of hex."""
    if raw is None:
        return None
    if isinstance(raw, str) and _MAC_CANONICAL.fullmatch(raw):  # in this notation already, as most send it
        return raw
    digits = _MAC_SEPARATORS.sub("", str(raw).strip().casefold())
    if not _HEX12.fullmatch(digits):
        return None
    return f"{digits[:2]}:{digits[2:4]}:{digits[4:6]}:{digits[6:8]}:{digits[8:10]}:{digits[10:]}"


def mac_is_placeholder(mac: str) -> bool:
    """Whether a normalised MAC names no one adapter: all zeros, broadcast, or a multicast
    (group) address, whose first octet has its lowest bit set."""
    return mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1 == 1


def normalise_hostname(raw: str | None) -> str | None:
    """A host name without its domain, upper case: ``pc-01.corp.local`` is ``PC-01``.
    None for an empty value or an IP address (which is no host name)."""
    if raw is None:
        return None
    value = str(raw).strip().rstrip(".")
    if not value or _IPV4.fullmatch(value):
        return None
    short = value.split(".", 1)[0].strip()
    return short.upper() or None


def normalise_email(raw: str | None) -> str | None:
    """An e-mail address without case or surrounding spaces (and without a ``mailto:``);
    None if it is not shaped like one."""
    if raw is None:
        return None
    value = str(raw).strip().casefold().removeprefix("mailto:")
    return value if _EMAIL.fullmatch(value) else None


def hostname_of_name(name: str) -> str | None:
    """The host name in a device's name when the name is a domain name (``pc-01.corp.local``)."""
    value = name.strip()
    if "." not in value or " " in value or _IPV4.fullmatch(value):
        return None
    return normalise_hostname(value)


@dataclass(frozen=True, slots=True)
class Keys:
    """An item's identity keys, normalised, placeholders left out: kind -> values."""

    values: dict[KeyKind, frozenset[str]] = field(default_factory=dict)
    #: :meth:`pairs`, worked out when first asked (a sync asks a key set several times)
    _pairs: tuple[tuple[str, str], ...] | None = field(default=None, compare=False, repr=False)

    def get(self, kind: KeyKind) -> frozenset[str]:
        return self.values.get(kind, _EMPTY)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(kind, value) rows, as the store's key tables hold them, sorted."""
        pairs = self._pairs
        if pairs is None:
            found = [(kind._value_, value) for kind, values in self.values.items() for value in values]
            if len(found) > 1:
                found.sort()
            pairs = tuple(found)
            object.__setattr__(self, "_pairs", pairs)
        return pairs

    def without(self, kind: KeyKind, value: str) -> Keys:
        kept = {k: (v - {value} if k is kind else v) for k, v in self.values.items()}
        return Keys({k: v for k, v in kept.items() if v})

    def __bool__(self) -> bool:
        return bool(self.values)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Keys:
        found: dict[KeyKind, set[str]] = {}
        kinds = _KIND_OF
        for kind, value in pairs:
            found.setdefault(kinds[kind], set()).add(value)
        return cls({kind: frozenset(values) for kind, values in found.items()})


_EMPTY: frozenset[str] = frozenset()
_KIND_OF = {kind._value_: kind for kind in KeyKind}
NO_KEYS = Keys()


@dataclass(slots=True)  # not frozen: one per item, and a frozen __init__ costs 4x
class Normalised:
    """:meth:`IdentityRules.normalise`'s answer: the keys, and the values refused as placeholders."""

    keys: Keys
    #: one line per refused value, e.g. "serial 'Default string' is a placeholder"
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentityRules:
    """The placeholder lists in force: the built-in ones plus what the config adds."""

    extra_serials: tuple[str, ...] = ()
    extra_macs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        serials = {_squash(s) for s in (*PLACEHOLDER_SERIALS, *self.extra_serials)}
        macs = {normalise_mac(m) for m in (*PLACEHOLDER_MACS, *self.extra_macs)}
        object.__setattr__(self, "_serials", frozenset(serials))
        object.__setattr__(self, "_macs", frozenset(m for m in macs if m))

    def serial_is_placeholder(self, serial: str) -> bool:
        """Whether a normalised serial identifies nothing: listed, too short, or one repeated character."""
        squashed = _squash(serial)
        return (squashed in self._serials  # type: ignore[attr-defined]
                or len(serial.strip()) < MIN_SERIAL_LENGTH
                or len(set(squashed)) <= 1)

    def mac_is_placeholder(self, mac: str) -> bool:
        return mac_is_placeholder(mac) or mac in self._macs  # type: ignore[attr-defined]

    def normalise(self, raw: IdentityKeys, type_: ResourceType, name: str, name_norm: str | None = None) -> Normalised:
        """The identity keys of one remote item, as they are stored and compared.

        The item's own cross-reference is not among them: its integration's kind, its type
        and its external id say it (see :mod:`syncview.services.matching`). Nor is a device's
        host name when it is its name (``name_norm``, the normalised name, when the caller
        has it): the name rule compares names anyway.
        """
        found: dict[KeyKind, frozenset[str]] = {}
        refused: list[str] = []
        serial = normalise_serial(raw.serial)
        if serial is not None:
            if self.serial_is_placeholder(serial):
                refused.append(f"serial {(raw.serial or '').strip()!r} is a placeholder")
            else:
                found[_SERIAL] = frozenset((serial,))
        if raw.macs:
            macs: set[str] = set()
            for text in raw.macs:
                mac = normalise_mac(text)
                if mac is None:
                    continue
                if self.mac_is_placeholder(mac):
                    refused.append(f"MAC {mac} is a placeholder")
                else:
                    macs.add(mac)
            if macs:
                found[_MAC] = frozenset(macs)
        email = normalise_email(raw.email)
        if email is not None:
            found[_EMAIL_KIND] = frozenset((email,))
        if type_ is _DEVICE:
            host = normalise_hostname(raw.hostname) if raw.hostname else hostname_of_name(name)
            if host is not None and host.casefold() not in PLACEHOLDER_HOSTS:
                host_norm = normalise_name(host)
                if host_norm != (name_norm if name_norm is not None else normalise_name(name)):
                    found[_HOST_KIND] = frozenset((host_norm,))
        if raw.xrefs:
            xrefs = frozenset(x.strip() for x in raw.xrefs if x and x.strip())
            if xrefs:
                found[_XREF] = xrefs
        return Normalised(Keys(found) if found else NO_KEYS, tuple(refused))


#: Members looked up once: an enum member's lookup costs as much as a key's test, per item.
_SERIAL, _MAC, _EMAIL_KIND, _HOST_KIND, _XREF = KeyKind.SERIAL, KeyKind.MAC, KeyKind.EMAIL, KeyKind.HOST, KeyKind.XREF
_DEVICE = ResourceType.DEVICE

DEFAULT_IDENTITY = IdentityRules()


def describe(kind: KeyKind, value: str) -> str:
    """A key as the operator reads it in a reason: "serial ABC123", "MAC aa:bb:..", "e-mail x@y"."""
    return f"{kind.label} {value}"
