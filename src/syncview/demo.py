"""A deterministic, believable MSP for demos, tests and benchmarks.

One seed gives the same clients, sites, devices and contacts every time: a PSA
(ConnectWise Manage) and an RMM (Datto RMM) each see their share of them, the
local documentation holds records for most, and the differences are the ones
operators really meet: a PSA company spelled "Acme Corporation, Inc." where the
documentation says "ACME Corp", a re-imaged workstation whose hostname changed,
a departed employee, a lab machine nobody wants synced.

Devices carry the identity keys real products send (issue 11), and contacts their
e-mail: serial numbers (some the firmware's placeholders, "To Be Filled By O.E.M."),
MAC addresses written the way each product writes them (the RMM ``AA:BB:..``, the
PSA ``aabb.ccdd.eeff``, the documentation ``aa-bb-..``), some with a VPN adapter's
MAC every such machine shares. The documentation holds the serial and MAC of most
machines it documents and the e-mail of its contacts. The stories that make
matching on names alone go wrong, each tagged on the resource (``story``):

- ``renamed``: a machine renamed for its user (ACME-WS-014 is now ACME-WS-ANAB);
  the record keeps the old name and the same serial.
- ``replaced``: new hardware under an old machine's host name, with its own serial;
  the old machine is still linked to the record and no longer seen by the RMM. The new
  one is Not Synced because its serial is not the record's ("same name as record
  'ACME-WS-014' but serial ... differs from its ... (replaced hardware?)").
- ``placeholder``: a placeholder serial; only the MAC tells the machine.
- ``vpn``: a VPN adapter's MAC besides its own, shared by many machines.
- ``display``: a contact the PSA lists as "Brown, Ana"; the e-mail is the same.
- ``mailbox``: the shared mailbox (info@...) and the people whose e-mail it is.

This module only describes the world; :mod:`syncview.services.seed` writes it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncview.domain import NO_KEYS, IdentityKeys, ResourceType, SyncStatus

PSA = "ConnectWise Manage"
RMM = "Datto RMM"
#: Integration name -> flavour of the demo connector.
INTEGRATIONS = {PSA: "psa", RMM: "rmm"}
DEFAULT_RESOURCES = 5_000

_PREFIXES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Cyberdyne",
    "Soylent", "Tyrell", "Wonka", "Pied Piper", "Dunder Mifflin", "Oscorp", "Massive Dynamic",
    "Monarch", "Nakatomi", "Blue Sun", "Gekko", "Sterling Cooper", "Prestige", "Bluth", "Kramerica",
    "Wernham Hogg", "Aperture", "Black Mesa", "Contoso", "Fabrikam", "Northwind", "Tailspin",
    "Litware", "Adventure Works", "Wide World", "Proseware", "Lucerne", "Alpine Ski", "Coho",
    "Fourth Coffee", "Margie's", "Trey", "Woodgrove", "Humongous", "Bellows", "Krusty", "Duff",
    "Frobozz", "Zorg", "Weyland", "Yoyodyne", "Virtucon", "Spacely", "Cogswell", "Gringotts",
    "Ollivander", "Tessier Ashpool", "Sirius", "Ajax", "Mom's", "Rekall",
)
_TRADES = (
    "Dental", "Logistics", "Law Group", "Holdings", "Manufacturing", "Realty", "Family Clinic",
    "Partners", "Engineering", "Foods", "Accounting", "Architects", "Veterinary", "Insurance",
    "Credit Union", "Construction", "Pharmacy", "Hotels", "Freight", "Media", "Consulting",
    "Dermatology", "Auto Group", "Marine", "Bakery", "Schools", "Pediatrics", "Optics", "Labs", "Energy",
)
_SUFFIXES = ("Corp", "Inc.", "LLC", "Ltd", "")
#: How a PSA mis-spells a documented client name: the documented suffix -> the PSA's.
_PSA_SUFFIX = {"Corp": "Corporation, Inc.", "Inc.": "Incorporated", "LLC": "L.L.C. Holdings", "Ltd": "Limited", "": "Group"}
_SITES = ("HQ", "Main Office", "Warehouse", "Downtown", "North Branch", "Data Center", "Clinic 2", "Remote")
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kira", "Liam",
          "Mei", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wes", "Yara", "Zoe")
_LAST = ("Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
         "Kowalski", "Lopez", "Muller", "Nguyen", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Usman",
         "Virtanen", "Walsh", "Xu", "Yilmaz", "Zhang")
_DEVICE_KINDS = (("WS", 55), ("LT", 30), ("SRV", 6), ("PRN", 5), ("FW", 2), ("NAS", 2))
#: Serials firmware reports when the maker set none: no identity, though products send them.
_PLACEHOLDER_SERIALS = ("To Be Filled By O.E.M.", "Default string", "System Serial Number")
#: How makers start their serials (HP, Lenovo, Apple, Dell service tags have none).
_SERIAL_PREFIXES = ("5CG", "PF", "C02", "", "MXL", "R9")
#: Makers' OUIs for the machines' network adapters.
_OUIS = (0x3C5282, 0xF8BC12, 0xA4BB6D, 0xB8CA3A)
#: A VPN client's virtual adapter: the same MAC on every machine that runs it. Not on any
#: placeholder list (a product nobody listed): only its being on many machines tells.
VPN_MAC = "02:50:41:00:00:01"
#: Shares of the stories told about devices and contacts (see the module docstring).
_PLACEHOLDER_SHARE, _VPN_SHARE, _UNDOCUMENTED_SHARE = 0.05, 0.04, 0.15
_RENAMED_SHARE, _DISPLAY_SHARE, _MAILBOX_SHARE = 0.03, 0.08, 0.06
#: Of the Not Synced devices with no record of their own, the share that is new hardware.
_REPLACED_SHARE = 0.6


@dataclass(slots=True)
class DemoRecord:
    """A local documentation record."""

    id: int
    type: ResourceType
    client_id: int
    name: str
    disabled: bool = False
    #: the identity keys the documentation holds for it (a device's serial and MAC, a contact's e-mail)
    keys: IdentityKeys = NO_KEYS


@dataclass(slots=True)
class DemoResource:
    """A remote resource of one demo integration, and how the documentation stands for it."""

    integration: str
    type: ResourceType
    external_id: str
    name: str
    remote_company: str
    #: the local client it belongs to once matched; None while its company is unmatched
    client_id: int | None
    status: SyncStatus
    record_id: int | None
    #: seconds before the last sync that the resource was last seen (0 = in the last sync)
    stale_for: int = 0
    deleted_remotely: bool = False
    payload: dict[str, Any] = field(default_factory=dict)
    #: the identity keys the product sends, as it writes them
    keys: IdentityKeys = NO_KEYS
    #: which of the module's stories it tells ("renamed", "replaced", ...), if any
    story: str | None = None
    #: the record it really is, linked or not (None: nothing documents it), to score suggestions by
    truth: int | None = None


@dataclass(slots=True)
class DemoClient:
    """One client with its records and the resources both integrations hold for it."""

    id: int
    name: str
    records: list[DemoRecord]
    resources: list[DemoResource]


def client_count(resources: int) -> int:
    """How many clients an MSP with that many synced resources has."""
    return max(8, min(resources // 400, 3_000))


def _client_name(index: int) -> tuple[str, str]:
    """A unique client name and the short tag its hostnames start with."""
    prefix = _PREFIXES[index % len(_PREFIXES)]
    trade = _TRADES[(index // len(_PREFIXES)) % len(_TRADES)]
    round_ = index // (len(_PREFIXES) * len(_TRADES))
    suffix = _SUFFIXES[(index * 7) % len(_SUFFIXES)]
    letters = "".join(ch for ch in prefix.upper() if ch.isalpha())
    if index < len(_PREFIXES):
        return f"{prefix} {suffix}".strip(), letters[:6]
    tag = letters[:4] + "".join(ch for ch in trade.upper() if ch.isalpha())[:3] + (str(round_ + 1) if round_ else "")
    name = f"{prefix} {trade}" + (f" {round_ + 1}" if round_ else "")
    return f"{name} {suffix}".strip(), tag


def _budgets(total: int, clients: int, rng: random.Random) -> list[int]:
    """Split ``total`` resources over clients, unevenly as real MSPs are, summing exactly."""
    weights = [rng.paretovariate(2.5) for _ in range(clients)]
    # Every client has at least its two client resources (one per integration).
    scale = (total - 2 * clients) / sum(weights)
    budgets = [2 + int(w * scale) for w in weights]
    for i in range(total - sum(budgets)):
        budgets[i % clients] += 1
    return budgets


class _ClientBuilder:
    """Builds one client's records and resources from its share of the budget."""

    def __init__(self, world: "DemoWorld", client_id: int, index: int, budget: int, rng: random.Random,
                 keys: random.Random) -> None:
        self.world = world
        #: draws the identity keys and their stories, apart from ``rng`` (names and fates)
        self.keys = keys
        self.client_id = client_id
        self.index = index
        self.name, self.tag = _client_name(index)
        self.budget = budget
        self.rng = rng
        self.records: list[DemoRecord] = []
        self.resources: list[DemoResource] = []

    def record(self, type_: ResourceType, name: str, disabled: bool = False,
               keys: IdentityKeys = NO_KEYS) -> DemoRecord:
        rec = DemoRecord(self.world.next_record_id(), type_, self.client_id, name, disabled, keys)
        self.records.append(rec)
        return rec

    def resource(self, integration: str, type_: ResourceType, name: str, company: str, *,
                 status: SyncStatus, record: DemoRecord | None, client_known: bool = True,
                 payload: dict[str, Any] | None = None, keys: IdentityKeys = NO_KEYS) -> DemoResource:
        ext = self.world.next_external_id(integration)
        res = DemoResource(integration, type_, str(ext), name, company,
                           self.client_id if client_known else None, status,
                           record.id if record else None, payload=payload or {}, keys=keys)
        # A company is not deleted while its items are synced (they would lose their client).
        if self.rng.random() < 0.01 and type_ is not ResourceType.CLIENT:
            res.deleted_remotely = True
            res.stale_for = self.rng.randint(2, 20) * 86_400
        self.resources.append(res)
        return res

    def documented(self, integration: str, type_: ResourceType, name: str, company: str, *,
                   client_known: bool = True, payload: dict[str, Any] | None = None,
                   shared: DemoRecord | None = None, keys: IdentityKeys = NO_KEYS,
                   record_keys: IdentityKeys = NO_KEYS) -> DemoResource:
        """A resource with its fate drawn: mostly matched, some not synced, a few excluded.

        ``keys`` are what the product sends, ``record_keys`` what the documentation holds of a
        record made for it. A record documented under another spelling holds no keys: the
        documentation of an item nobody linked is the sketchy kind (and a key would link it).
        """
        roll = self.rng.random()
        if not client_known:
            # Nothing under an unmatched company can be matched until the company is.
            rec = shared or self.record(type_, name, keys=record_keys)
            res = self.resource(integration, type_, name, company, status=SyncStatus.NOT_SYNCED,
                                record=None, client_known=False, payload=payload, keys=keys)
        # A record the RMM's copy links is free for the PSA, so the rules would link it: matched.
        elif roll < 0.84 or (shared is not None and roll < 0.95):
            rec = shared or self.record(type_, name, keys=record_keys)
            res = self.resource(integration, type_, name, company, status=SyncStatus.MATCHED,
                                record=rec, payload=payload, keys=keys)
        elif roll < 0.95:
            rec = None
            if shared is None and self.rng.random() < 0.7:
                rec = self.record(type_, _variant(name, self.rng))  # documented under another spelling
            res = self.resource(integration, type_, name, company, status=SyncStatus.NOT_SYNCED,
                                record=None, payload=payload, keys=keys)
        else:
            rec = shared or self.record(type_, name, disabled=self.rng.random() < 0.5, keys=record_keys)
            res = self.resource(integration, type_, name, company, status=SyncStatus.EXCLUDED,
                                record=None, payload=payload, keys=keys)
        res.truth = rec.id if rec is not None else None
        return res

    # -- identity keys: drawn from their own generator, so the names and fates stay as they were

    def machine(self) -> tuple[str, str]:
        """A new machine's serial as its firmware reports it (a placeholder for some) and its MAC,
        as 12 hex digits."""
        number = self.world.next_machine()
        draw = self.keys.random
        if draw() < _PLACEHOLDER_SHARE:
            serial = _PLACEHOLDER_SERIALS[int(draw() * len(_PLACEHOLDER_SERIALS))]
        else:  # unique: the machine's number scrambled (odd multiplier: a bijection below 2**32)
            serial = f"{_SERIAL_PREFIXES[int(draw() * len(_SERIAL_PREFIXES))]}{number * 2_654_435_761 % 2**32:08X}"
        return serial, f"{_OUIS[number % len(_OUIS)]:06x}{number & 0xFFFFFF:06x}"

    def device_keys(self, hostname: str, serial: str, mac: str, *, vpn: bool) -> tuple[IdentityKeys, IdentityKeys]:
        """The keys of one machine as the RMM sends them, and as the documentation holds them
        (most machines' serial and MAC; none for an undocumented one)."""
        pairs = (mac[0:2], mac[2:4], mac[4:6], mac[6:8], mac[8:10], mac[10:12])
        rmm_mac = ":".join(pairs).upper()
        rmm = IdentityKeys(serial, (rmm_mac, VPN_MAC) if vpn else (rmm_mac,), hostname)
        if self.keys.random() < _UNDOCUMENTED_SHARE:
            return rmm, NO_KEYS
        return rmm, IdentityKeys(None if serial in _PLACEHOLDER_SERIALS else serial, ("-".join(pairs),))

    @staticmethod
    def psa_keys(rmm: IdentityKeys) -> IdentityKeys:
        """The same machine's keys as ConnectWise sends them: the serial padded and in lower case,
        the MAC written Cisco's way (``3c52.8200.000a``)."""
        serial = rmm.serial or ""
        mac = rmm.macs[0].replace(":", "").lower()
        return IdentityKeys(serial if serial in _PLACEHOLDER_SERIALS else f" {serial.lower()} ",
                            (f"{mac[0:4]}.{mac[4:8]}.{mac[8:12]}",), rmm.hostname)

    def build(self) -> DemoClient:
        rng = self.rng
        client_record = self.record(ResourceType.CLIENT, self.name)
        # One client in eight is spelled differently in the PSA and was never re-matched.
        psa_variant = self.index % 8 == 0
        psa_company = _psa_spelling(self.name) if psa_variant else self.name
        company = self.resource(PSA, ResourceType.CLIENT, psa_company, psa_company,
                                status=SyncStatus.NOT_SYNCED if psa_variant else SyncStatus.MATCHED,
                                record=None if psa_variant else client_record, client_known=not psa_variant,
                                payload={"identifier": self.tag, "status": "Active"})
        site = self.resource(RMM, ResourceType.CLIENT, self.name, self.name, status=SyncStatus.MATCHED,
                             record=client_record, payload={"uid": f"{self.client_id:08x}-site"})
        company.truth = site.truth = client_record.id
        remaining = max(0, self.budget - 2)
        sites = min(len(_SITES), max(1, remaining // 150 + 1), remaining)
        for i in range(sites):
            name = f"{self.name} - {_SITES[i]}"
            self.documented(PSA, ResourceType.SITE, name, psa_company, client_known=not psa_variant,
                            payload={"city": _SITES[i], "primaryAddressFlag": i == 0})
        remaining -= sites
        contacts = min(remaining, max(0, int(remaining * 0.12)))
        people: set[str] = set()
        domain = f"{self.tag.lower()}.example"
        mailbox = f"info@{domain}"
        for i in range(contacts):
            person = f"{_FIRST[rng.randrange(len(_FIRST))]} {_LAST[rng.randrange(len(_LAST))]}"
            if person in people:  # two people of one name in one client would match ambiguously
                person = f"{person} {i}"
            people.add(person)
            email, story = f"{person.lower().replace(' ', '.')}@{domain}", None
            roll = self.keys.random()
            if contacts >= 8 and i == 0:
                person, email, story = "Front Desk", mailbox, "mailbox"  # the shared mailbox itself
            elif contacts >= 8 and roll < _MAILBOX_SHARE:
                email, story = mailbox, "mailbox"  # reads the shared mailbox, has none of their own
            elif roll < _MAILBOX_SHARE + _DISPLAY_SHARE and " " in person:
                story = "display"
            # The documentation keeps the address as someone typed it.
            typed = email if self.keys.random() < 0.7 else email.title()
            res = self.documented(PSA, ResourceType.CONTACT, person, psa_company, client_known=not psa_variant,
                                  payload={"email": email, "inactiveFlag": False},
                                  keys=IdentityKeys(email=email), record_keys=IdentityKeys(email=typed))
            if story == "display":
                if res.status is SyncStatus.MATCHED:  # the PSA lists them surname first; the e-mail tells
                    first, last = person.split(" ", 1)
                    res.name = f"{last}, {first}"
                else:
                    story = None
            res.story = story
        remaining -= contacts
        # The RMM sees every managed device; the PSA holds about a third of them as configurations.
        serial = 0
        #: matched machines with a documented serial, whose host name new hardware may take over
        replaceable: list[DemoResource] = []
        while remaining > 0:
            serial += 1
            kind = rng.choices([k for k, _ in _DEVICE_KINDS], [w for _, w in _DEVICE_KINDS])[0]
            hostname = f"{self.tag}-{kind}-{serial:03d}"
            machine_serial, mac = self.machine()
            vpn = self.keys.random() < _VPN_SHARE
            records_before = self.records[-1].id if self.records else 0
            keys, documented = self.device_keys(hostname, machine_serial, mac, vpn=vpn)
            payload = {"hostname": hostname, "deviceType": kind, "lastSeen": None,
                       "serialNumber": machine_serial, "macAddresses": list(keys.macs)}
            rmm = self.documented(RMM, ResourceType.DEVICE, hostname, self.name, payload=payload,
                                  keys=keys, record_keys=documented)
            rmm.story = "placeholder" if machine_serial in _PLACEHOLDER_SERIALS else "vpn" if vpn else None
            remaining -= 1
            record = self.records[-1] if self.records and self.records[-1].id == rmm.record_id else None
            roll = self.keys.random()
            if record is not None and record.keys and not rmm.deleted_remotely:
                if roll < _RENAMED_SHARE:
                    self.rename(rmm)
                elif record.keys.serial and rmm.story is None:
                    replaceable.append(rmm)
            elif (rmm.status is SyncStatus.NOT_SYNCED and replaceable and roll < _REPLACED_SHARE
                  and self.records[-1].id == records_before and machine_serial not in _PLACEHOLDER_SERIALS):
                # Not Synced with no record of its own: it is the new hardware of an earlier machine.
                self.replace(replaceable.pop(int(self.keys.random() * len(replaceable))), rmm)
            if remaining > 0 and rmm.record_id is not None and rng.random() < 0.3:
                shared = self.records[-1] if self.records[-1].id == rmm.record_id else None
                psa = self.psa_keys(keys)
                self.documented(PSA, ResourceType.DEVICE, hostname, psa_company, client_known=not psa_variant,
                                payload={"name": hostname, "type": {"name": kind},
                                         "serialNumber": psa.serial, "macAddress": psa.macs[0]},
                                shared=shared, keys=psa, record_keys=documented)
                remaining -= 1
        return DemoClient(self.client_id, self.name, self.records, self.resources)

    def rename(self, res: DemoResource) -> None:
        """The machine was renamed for its user; its record keeps the old name and the serial."""
        first, last = _FIRST[self.keys.randrange(len(_FIRST))], _LAST[self.keys.randrange(len(_LAST))]
        name = f"{self.tag}-{res.payload['deviceType']}-{first[:3]}{last[0]}".upper()
        res.name, res.story = name, "renamed"
        res.payload = {**res.payload, "hostname": name}
        res.keys = IdentityKeys(serial=res.keys.serial, macs=res.keys.macs, hostname=name)

    def replace(self, old: DemoResource, new: DemoResource) -> None:
        """New hardware took the old machine's host name: the RMM no longer sees the old one (still
        linked to its record) and sees the new one, with its own serial and MAC, not linked."""
        old.deleted_remotely, old.story = True, "replaced"
        old.stale_for = old.stale_for or (3 + int(self.keys.random() * 20)) * 86_400
        new.name, new.story, new.truth = old.name, "replaced", None
        new.payload = {**new.payload, "hostname": old.name}
        new.keys = IdentityKeys(new.keys.serial, new.keys.macs, old.name)


_TRAILING_NUMBER = re.compile(r"\d+$")


def _variant(name: str, rng: random.Random) -> str:
    """How documentation often spells a name slightly differently."""
    choice = rng.randrange(4)
    number = _TRAILING_NUMBER.search(name)
    if choice == 0 and number and number.group().startswith("0"):
        # ACME-WS-014 -> ACME-WS-14: the same number without its zeros (never ACME-WS-1077 -> -177)
        return f"{name[:number.start()]}{int(number.group())}"
    if choice == 1:
        return f"{name} (old)"
    if choice == 2:
        words = name.split()
        if " " in name:
            return f"{words[0][0]}. {' '.join(words[1:])}"  # Ana Brown -> A. Brown
        return f"{name.lower()}.corp.local"  # hostname -> FQDN
    return f"{name} 2"


def _psa_spelling(name: str) -> str:
    for suffix in sorted(_PSA_SUFFIX, key=len, reverse=True):
        if suffix and name.endswith(" " + suffix):
            return f"{name[: -len(suffix) - 1]} {_PSA_SUFFIX[suffix]}"
    return f"{name} {_PSA_SUFFIX['']}"


class DemoWorld:
    """The demo MSP for ``resources`` remote resources over both integrations (exactly)."""

    def __init__(self, resources: int = DEFAULT_RESOURCES, *, seed: int = 7,
                 first_client_id: int = 1, first_record_id: int = 1) -> None:
        if resources < 16:
            raise ValueError("the demo needs at least 16 resources")
        self.resources = resources
        self.seed = seed
        self.clients = client_count(resources)
        self._first_client_id = first_client_id
        self._record_id = first_record_id - 1
        self._external_ids = {name: 10_000 for name in INTEGRATIONS}
        self._machines = 0

    def next_machine(self) -> int:
        """A number no other machine of this world has (its serial and MAC are made from it)."""
        self._machines += 1
        return self._machines

    def next_record_id(self) -> int:
        self._record_id += 1
        return self._record_id

    def next_external_id(self, integration: str) -> int:
        self._external_ids[integration] += 1
        return self._external_ids[integration]

    def __iter__(self) -> Iterator[DemoClient]:
        rng = random.Random(self.seed)
        budgets = _budgets(self.resources, self.clients, rng)
        for index, budget in enumerate(budgets):
            client_id = self._first_client_id + index
            keys = random.Random(self.seed * 1_000_003 + index)
            yield _ClientBuilder(self, client_id, index, budget, rng, keys).build()
