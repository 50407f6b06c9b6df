"""A generated MSP estate with known truth, for scoring the matching rules (issue 11).

One estate seen by two products: a PSA (companies, configurations, contacts) whose sync creates
the local records (``create_missing``), and an RMM (sites, devices, end users) that must link to
them. Every RMM item is drawn from one *case* that says what really happened to it, and so which
record it should link to, if any:

devices
  ``exact``          same name, serial and MACs in both products
  ``renamed``        the RMM knows it by its host name, the PSA by a description; same serial
  ``mac``            placeholder serial ("To Be Filled By O.E.M.") in both; renamed; the MAC,
                     written ``aa-bb-..`` in one product and ``aabb.ccdd.eeff`` in the other
  ``fqdn``           the RMM sends ``acme-ws-014.acme.local`` and no serial
  ``replaced``       same host name, new machine (new serial and MAC): links to nothing
  ``new``            in the RMM only: links to nothing
  ``clone``          two machines imaged with one serial (a template's), each its own MAC
  ``vpn``            placeholder serial, renamed, a real MAC plus a VPN adapter's MAC that
                     every such machine shares
  ``digit``          a new machine whose name differs from a PSA machine's by a digit
                     (LT-353 / LT-133), placeholder serial, no MAC: links to nothing
  ``twin_names``     the PSA has two machines of one name (both "RECEPTION-PC"), the RMM
                     both, each with its serial
  ``unidentifiable`` renamed, placeholder serial, no MAC: the same machine, but nothing says so
contacts
  ``exact``          same name and e-mail
  ``display``        "Brown, Ana" / "Ana Brown", e-mail in another case
  ``mailbox``        a person whose e-mail is the shared mailbox, and the mailbox itself
  ``no_email``       the RMM has no e-mail for them; same name
  ``new``            in the RMM only
  ``email_changed``  same name, a new e-mail address: a stronger key disagrees, so Not Synced
clients
  RMM sites named their own way ("Acme HQ") carry the PSA company id (a cross-reference);
  some are named as the PSA names them and carry none.

:func:`generate` is deterministic for a seed; :func:`prepare` writes the documented clients
into a store; :func:`score` reads what the syncs linked and scores it against the truth.
Importable by tests (``from benchmarks.world import generate``) and by any engine version that
has ``RemoteItem.keys``, so the same world scores today's engine and the one before it.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from syncview.connectors.base import Connector, Page
from syncview.domain import IdentityKeys, RemoteItem, ResourceType, normalise_name, xref

CLIENT, DEVICE, CONTACT = ResourceType.CLIENT, ResourceType.DEVICE, ResourceType.CONTACT
PSA, RMM = "world_psa", "world_rmm"
#: The products' integration names in the store.
NAMES = {PSA: "World PSA", RMM: "World RMM"}

#: Share of each device case among the RMM's devices (they sum to 1).
DEVICE_CASES = {"exact": 0.50, "renamed": 0.13, "mac": 0.08, "fqdn": 0.06, "replaced": 0.03, "new": 0.03,
                "clone": 0.04, "vpn": 0.04, "digit": 0.03, "twin_names": 0.04, "unidentifiable": 0.02}
CONTACT_CASES = {"exact": 0.60, "display": 0.18, "mailbox": 0.06, "no_email": 0.08, "new": 0.05,
                 "email_changed": 0.03}
PLACEHOLDER = ["To Be Filled By O.E.M.", "Default string", "System Serial Number", "0", "N/A", "None"]
#: A virtual adapter's MAC that many machines carry (not on syncview's built-in list: the
#: engine has to find it shared).
VPN_MAC = "02:50:41:00:00:01"
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Eva", "Finn", "Gus", "Hiro", "Ines", "Jon", "Kai", "Lea", "Mo", "Noah", "Olga"]
LAST = ["Brown", "Tanaka", "Evans", "Haddad", "Kowalski", "Silva", "Novak", "Okafor", "Larsen", "Rossi", "Meyer"]
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
         "Cyberdyne", "Wonka", "Gringotts", "Monarch", "Aperture", "Oscorp", "Nakatomi", "Virtucon"]
DESCRIPTIONS = ["Front desk laptop", "CFO laptop", "Warehouse scanner PC", "Meeting room PC", "Spare laptop",
                "Design workstation", "Lab PC", "Kiosk"]


@dataclass(frozen=True, slots=True)
class Truth:
    """What an RMM item really is: the PSA item of the same thing (whose record it should link
    to), or None when it should link to nothing."""

    case: str
    psa: tuple[str, str] | None  # (type, PSA external id)


@dataclass
class World:
    #: documented local clients: (id, name); each has a client record of its name
    clients: list[tuple[int, str]] = field(default_factory=list)
    psa: list[RemoteItem] = field(default_factory=list)
    rmm: list[RemoteItem] = field(default_factory=list)
    #: (type, RMM external id) -> the truth of that item
    truth: dict[tuple[str, str], Truth] = field(default_factory=dict)

    @property
    def resources(self) -> int:
        return len(self.psa) + len(self.rmm)


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serials: set[str] = set()
        self.macs: set[str] = set()

    def serial(self) -> str:
        while True:
            value = "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=10))
            if value not in self.serials:
                self.serials.add(value)
                return value

    def mac(self) -> str:
        """A unicast, globally administered MAC as 12 hex digits."""
        while True:
            octets = [self.rng.randrange(256) for _ in range(6)]
            octets[0] &= 0b11111100
            value = "".join(f"{o:02x}" for o in octets)
            if value not in self.macs and value != "000000000000":
                self.macs.add(value)
                return value


def colon(mac: str) -> str:
    return ":".join(mac[i:i + 2] for i in range(0, 12, 2)).upper()


def dash(mac: str) -> str:
    return "-".join(mac[i:i + 2] for i in range(0, 12, 2)).lower()


def dotted(mac: str) -> str:
    return ".".join(mac[i:i + 4] for i in range(0, 12, 4))


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def generate(resources: int = 20_000, *, seed: int = 11) -> World:
    """An estate of about ``resources`` remote items over both products (about 60 per client in
    each product: one client, 40 devices, 20 contacts)."""
    g = _Gen(seed)
    rng = g.rng
    world = World()
    per_client = 2 * 61
    n_clients = max(1, resources // per_client)
    psa_ids = iter(range(100_000, 10**9))
    rmm_ids = iter(range(500_000, 10**9))
    psa_clients, psa_devices, psa_contacts = [], [], []
    rmm_clients, rmm_devices, rmm_contacts = [], [], []
    for number in range(1, n_clients + 1):
        word = WORDS[number % len(WORDS)]
        name = f"{word} {number} Ltd"
        code = f"{word[:3].upper()}{number}"
        world.clients.append((number, name))
        company_id = str(next(psa_ids))
        # The PSA names the company as documented (give or take punctuation).
        psa_company = f"{name}." if number % 3 == 0 else name
        psa_clients.append(RemoteItem(CLIENT, company_id, psa_company, None, {"id": company_id}))
        site_id = str(next(rmm_ids))
        if number % 5 < 3:  # most sites have their own name and say which PSA company they are
            site = f"{word} {number} - HQ"
            site_keys = IdentityKeys(xrefs=(xref(PSA, CLIENT, company_id),))
        else:
            site, site_keys = name, IdentityKeys()
        rmm_clients.append(RemoteItem(CLIENT, site_id, site, None, {"id": site_id}, site_keys))

        used_numbers: set[int] = set()

        def hostname(kind: str) -> str:
            while True:
                n = rng.randrange(100, 1000)
                if n not in used_numbers:
                    used_numbers.add(n)
                    return f"{code}-{kind}-{n:03d}"

        def psa_device(name_: str, serial: str | None, macs: tuple[str, ...]) -> str:
            ext = str(next(psa_ids))
            psa_devices.append(RemoteItem(DEVICE, ext, name_, psa_company, {"id": ext},
                                          IdentityKeys(serial=serial, macs=tuple(colon(m) for m in macs))))
            return ext

        def rmm_device(case: str, name_: str, serial: str | None, macs: tuple[str, ...], psa: str | None,
                       hostname_: str | None = None) -> None:
            ext = str(next(rmm_ids))
            rmm_devices.append(RemoteItem(DEVICE, ext, name_, site, {"id": ext},
                                          IdentityKeys(serial=serial, macs=macs, hostname=hostname_)))
            world.truth[(DEVICE.value, ext)] = Truth(case, (DEVICE.value, psa) if psa else None)

        count = 0
        while count < 40:
            case = _pick(rng, DEVICE_CASES)
            kind = rng.choice(["WS", "LT", "SRV"])
            host = hostname(kind)
            serial, mac = g.serial(), g.mac()
            if case == "exact":
                psa = psa_device(host, serial, (mac,))
                rmm_device(case, host, f" {serial.lower()} ", (dash(mac),), psa)
            elif case == "renamed":
                psa = psa_device(f"{rng.choice(DESCRIPTIONS)} {host[-3:]}", serial, (mac,))
                rmm_device(case, host, serial, (dotted(mac),), psa)
            elif case == "mac":
                psa = psa_device(f"{rng.choice(DESCRIPTIONS)} {host[-3:]}", rng.choice(PLACEHOLDER), (mac,))
                rmm_device(case, host, rng.choice(PLACEHOLDER), (dotted(mac),), psa)
            elif case == "fqdn":
                psa = psa_device(host, serial, ())
                rmm_device(case, f"{host.lower()}.{word.lower()}.local", None, (), psa)
            elif case == "replaced":
                psa_device(host, serial, (mac,))
                rmm_device(case, host, g.serial(), (dash(g.mac()),), None)
            elif case == "new":
                rmm_device(case, host, serial, (dash(mac),), None)
            elif case == "clone":
                image = g.serial()
                for extra in (0, 1):
                    host_ = host if extra == 0 else hostname(kind)
                    mac_ = g.mac()
                    psa = psa_device(host_, image, (mac_,))
                    rmm_device(case, host_, image, (dash(mac_),), psa)
                count += 1
            elif case == "vpn":
                psa = psa_device(f"{rng.choice(DESCRIPTIONS)} {host[-3:]}", "Default string", (mac, VPN_MAC))
                rmm_device(case, host, "To Be Filled By O.E.M.", (dotted(mac), VPN_MAC.lower()), psa)
            elif case == "digit":
                other = int(host[-3:])
                twin = f"{host[:-3]}{(other + 10 * rng.randrange(1, 9)) % 900 + 100:03d}"
                if int(twin[-3:]) in used_numbers:
                    continue
                used_numbers.add(int(twin[-3:]))
                psa_device(twin, rng.choice(PLACEHOLDER), ())
                rmm_device(case, host, rng.choice(PLACEHOLDER), (), None)
            elif case == "twin_names":
                shared_name = f"{code}-RECEPTION-{count}"
                for _ in (0, 1):
                    serial_ = g.serial()
                    psa = psa_device(shared_name, serial_, ())
                    rmm_device(case, shared_name, serial_, (), psa)
                count += 1
            else:  # unidentifiable
                psa = psa_device(f"{rng.choice(DESCRIPTIONS)} {host[-3:]}", rng.choice(PLACEHOLDER), ())
                rmm_device(case, host, rng.choice(PLACEHOLDER), (), psa)
            count += 1
        # PSA-only machines: documented, not (yet) in the RMM.
        for _ in range(2):
            psa_device(hostname("LT"), g.serial(), (g.mac(),))

        people: set[tuple[str, str]] = set()
        domain = f"{word.lower()}{number}.example"
        mailbox = f"reception@{domain}"
        count = 0
        while count < 20:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if (first, last) in people:
                continue
            people.add((first, last))
            email = f"{first.lower()}.{last.lower()}@{domain}"
            case = _pick(rng, CONTACT_CASES)
            ext = str(next(psa_ids))
            rext = str(next(rmm_ids))
            psa_item = RemoteItem(CONTACT, ext, f"{first} {last}", psa_company, {"id": ext}, IdentityKeys(email=email))
            truth: tuple[str, str] | None = (CONTACT.value, ext)
            if case == "exact":
                rmm_item = RemoteItem(CONTACT, rext, f"{first} {last}", site, {"id": rext}, IdentityKeys(email=email))
            elif case == "display":
                rmm_item = RemoteItem(CONTACT, rext, f"{last}, {first}", site, {"id": rext},
                                      IdentityKeys(email=email.upper()))
            elif case == "mailbox":
                # She signs in with the shared mailbox; the mailbox is a contact of its own.
                rmm_item = RemoteItem(CONTACT, rext, f"{first} {last}", site, {"id": rext},
                                      IdentityKeys(email=mailbox))
                box_ext, box_rext = str(next(psa_ids)), str(next(rmm_ids))
                box_name = f"Reception {count}"
                psa_contacts.append(RemoteItem(CONTACT, box_ext, box_name, psa_company, {"id": box_ext},
                                               IdentityKeys(email=mailbox)))
                rmm_contacts.append(RemoteItem(CONTACT, box_rext, box_name, site, {"id": box_rext},
                                               IdentityKeys(email=mailbox)))
                world.truth[(CONTACT.value, box_rext)] = Truth(case, (CONTACT.value, box_ext))
                count += 1
            elif case == "no_email":
                rmm_item = RemoteItem(CONTACT, rext, f"{first} {last}", site, {"id": rext})
            elif case == "new":
                psa_item, truth = None, None
                rmm_item = RemoteItem(CONTACT, rext, f"{first} {last}", site, {"id": rext}, IdentityKeys(email=email))
            else:  # email_changed
                rmm_item = RemoteItem(CONTACT, rext, f"{first} {last}", site, {"id": rext},
                                      IdentityKeys(email=f"{first[0].lower()}{last.lower()}@{domain}"))
            if psa_item is not None:
                psa_contacts.append(psa_item)
            rmm_contacts.append(rmm_item)
            world.truth[(CONTACT.value, rext)] = Truth(case, truth)
            count += 1
    world.psa = psa_clients + psa_devices + psa_contacts
    world.rmm = rmm_clients + rmm_devices + rmm_contacts
    for item in rmm_clients:
        xrefs = item.keys.xrefs
        psa_company_id = xrefs[0].rsplit(":", 1)[1] if xrefs else None
        world.truth[(CLIENT.value, item.external_id)] = Truth("site_xref" if xrefs else "site_name", None)
        if psa_company_id:
            world.truth[(CLIENT.value, item.external_id)] = Truth("site_xref", (CLIENT.value, psa_company_id))
    # A site named as the PSA names its company is that company.
    by_name = {normalise_name(i.name): i.external_id for i in psa_clients}
    for item in rmm_clients:
        if not item.keys.xrefs:
            world.truth[(CLIENT.value, item.external_id)] = Truth("site_name", (CLIENT.value,
                                                                               by_name[normalise_name(item.name)]))
    return world


class WorldConnector(Connector):
    """Yields one product's items of a world, clients first, in pages."""

    kind = PSA
    title = "World"

    def __init__(self, kind: str, items: list[RemoteItem], page_size: int = 1000) -> None:
        super().__init__(NAMES[kind], {})
        self.kind = kind  # the instance's: the items' own cross-references name it
        self.items = items
        self.page_size = page_size

    def fetch(self, since: datetime | None = None) -> Iterator[Page]:
        for start in range(0, len(self.items), self.page_size):
            yield Page(self.items[start:start + self.page_size], "items")


def prepare(store, world: World) -> None:
    """Write the documented clients (and a client record each) into an empty store."""
    with store.write() as conn:
        raw = conn.connection.driver_connection
        raw.executemany("INSERT INTO client (id, name, name_norm) VALUES (?, ?, ?)",
                        [(cid, name, normalise_name(name)) for cid, name in world.clients])
        raw.executemany(
            "INSERT INTO record (id, type, client_id, name, name_norm, disabled, attributes, created_at, updated_at)"
            " VALUES (?, 'client', ?, ?, ?, 0, '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            [(cid, cid, name, normalise_name(name)) for cid, name in world.clients])


@dataclass
class Score:
    """Automatic links of the RMM's items against the truth."""

    links: int = 0
    correct: int = 0
    #: items whose truth is a record
    should: int = 0
    wrong_by_case: Counter = field(default_factory=Counter)
    missed_by_case: Counter = field(default_factory=Counter)
    items_by_case: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        return self.correct / self.links if self.links else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.should if self.should else 1.0


def score(store, world: World) -> Score:
    """Score the RMM's automatic links (to records that existed before its sync) against the truth.

    Reads only columns every schema has (status, record_id), so it scores any engine version.
    """
    with store.read() as conn:
        raw = conn.connection.driver_connection
        integration = {name: iid for iid, name in raw.execute("SELECT id, name FROM integration")}
        record_of = {(t, e): r for t, e, r in raw.execute(
            "SELECT type, external_id, record_id FROM resource WHERE integration_id = ?", (integration[NAMES[PSA]],))}
        linked = {(t, e): r for t, e, r in raw.execute(
            "SELECT type, external_id, record_id FROM resource WHERE integration_id = ? AND status = 'matched'",
            (integration[NAMES[RMM]],))}
    found = Score()
    for key, truth in world.truth.items():
        want = record_of.get(truth.psa) if truth.psa else None
        got = linked.get(key)
        found.items_by_case[f"{key[0]} {truth.case}"] += 1
        if want is not None:
            found.should += 1
        if got is not None:
            found.links += 1
            if got == want:
                found.correct += 1
            else:
                found.wrong_by_case[f"{key[0]} {truth.case}"] += 1
        elif want is not None:
            found.missed_by_case[f"{key[0]} {truth.case}"] += 1
    return found
