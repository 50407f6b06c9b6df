"""Domain vocabulary shared by the store, services, connectors and both faces (CLI, TUI).

Nothing here touches the database or the screen.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ResourceType(StrEnum):
    """What a remote resource or local record is. Connectors map their entities onto these."""

    CLIENT = "client"
    SITE = "site"
    DEVICE = "device"
    CONTACT = "contact"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class SyncStatus(StrEnum):
    """How a remote resource stands against the local documentation."""

    MATCHED = "matched"
    NOT_SYNCED = "not_synced"
    EXCLUDED = "excluded"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @classmethod
    def parse(cls, text: str) -> "SyncStatus":
        """Accept the value, the label, or a loose spelling ("not-synced", "Not Synced")."""
        key = re.sub(r"[\s\-]+", "_", text.strip().lower())
        try:
            return cls(key)
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown status {text!r}; expected one of {choices}") from None


_STATUS_LABELS = {
    SyncStatus.MATCHED: "Matched",
    SyncStatus.NOT_SYNCED: "Not Synced",
    SyncStatus.EXCLUDED: "Excluded",
}


class MatchedOn(StrEnum):
    """How a Matched resource got its record: a rule, an operator, or a record created from it."""

    XREF = "xref"
    SERIAL = "serial"
    MAC = "mac"
    EMAIL = "email"
    NAME = "name"
    OPERATOR = "operator"
    CREATED = "created"

    @property
    def label(self) -> str:
        """In a word, as the table's Why column and filters show it."""
        return {"mac": "MAC", "email": "e-mail"}.get(self.value, self.value)

    @property
    def sentence(self) -> str:
        """In words, as details show it."""
        return {"xref": "matched on a cross-reference id", "operator": "re-matched by an operator",
                "created": "its record was created from it"}.get(self.value, f"matched on its {self.label}")


class ReasonKind(StrEnum):
    """Why a resource is Not Synced, in a word (its ``reason`` says it in full)."""

    NO_CLIENT = "no_client"  # its remote company matches no local client
    NO_MATCH = "no_match"  # no record has its name or keys
    AMBIGUOUS = "ambiguous"  # two or more records have its key (or name)
    TAKEN = "taken"  # the one record with its key is another item's
    CONFLICT = "conflict"  # a stronger key disagrees with the record its name (or key) finds
    SHARED = "shared"  # linked on a value that several items carry, and taken back
    INCLUDED = "included"  # included again by an operator; the next sync applies the rules

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


def parse_why(text: str) -> MatchedOn | ReasonKind:
    """How a resource matched or why it did not, from user input: a MatchedOn or ReasonKind
    value or label, any case ("serial", "MAC", "no match", "no-match")."""
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    for kind in (MatchedOn, ReasonKind):
        for member in kind:
            if key in (member.value, re.sub(r"[\s\-]+", "_", member.label.lower())):
                return member
    choices = ", ".join([m.value for m in MatchedOn] + [r.value for r in ReasonKind])
    raise ValueError(f"unknown reason {text!r}; expected one of {choices}")


def why_label(matched_on: str | None, reason_kind: str | None) -> str:
    """How a resource matched, or why not, in a word or two ("serial", "no match"); "—" if neither."""
    if matched_on is not None and matched_on in MatchedOn._value2member_map_:
        return MatchedOn(matched_on).label
    if reason_kind is not None and reason_kind in ReasonKind._value2member_map_:
        return ReasonKind(reason_kind).label
    return "—"


def parse_resource_type(text: str) -> ResourceType:
    """Parse a resource type from user input (case-insensitive, plural accepted)."""
    key = text.strip().lower()
    if key.endswith("s") and key[:-1] in ResourceType._value2member_map_:
        key = key[:-1]
    try:
        return ResourceType(key)
    except ValueError:
        choices = ", ".join(t.value for t in ResourceType)
        raise ValueError(f"unknown resource type {text!r}; expected one of {choices}") from None


_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def fold_case(text: str) -> str:
    """``text`` with case ignored as Unicode says (full case folding after NFKC): "ÉCOLE" and
    "école" fold alike, and so do "STRASSE" and "Straße" (both "strasse"). The one definition
    of "any case" for names; ``normalise_name`` starts from it and the SQL filters compare
    what it gives (SQLite calls it as ``syncview_fold``; see :data:`FOLD_SQL_POSTGRES`)."""
    return unicodedata.normalize("NFKC", text).casefold()


#: ``syncview_fold(text)`` for PostgreSQL, which cannot call Python: NFKC then ``lower()``
#: (simple per-letter mapping) and the full foldings ``lower()`` lacks that names hold in
#: practice (ß and ẞ to "ss", final sigma to sigma). ``lower()`` follows the collation, and
#: name columns are ``COLLATE "C"`` (ASCII only), so it is told to use ICU's root collation
#: where the server has ICU, else the database's default. It agrees with :func:`fold_case` on
#: Latin, Greek and Cyrillic names; it differs only on rare letters (dotted capital I, Cherokee).
FOLD_SQL_POSTGRES = """DO $do$ BEGIN
IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
  CREATE OR REPLACE FUNCTION syncview_fold(name text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $f$ SELECT replace(replace(lower(normalize(name, NFKC) COLLATE "und-x-icu"), 'ß', 'ss'), 'ς', 'σ') $f$;
ELSE
  CREATE OR REPLACE FUNCTION syncview_fold(name text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $f$ SELECT replace(replace(lower(normalize(name, NFKC) COLLATE "default"), 'ß', 'ss'), 'ς', 'σ') $f$;
END IF;
END $do$"""


def normalise_name(name: str) -> str:
    """The form in which two names are "equal" for automatic matching.

    Case (:func:`fold_case`), accents' compatibility forms, punctuation and runs of spaces
    are ignored; words are kept, so "ACME Corp" and "Acme Corporation, Inc." stay different:
    only similarity ranking (never automatic linking) treats those as close.
    """
    text = _PUNCTUATION.sub(" ", fold_case(name))
    return _SPACES.sub(" ", text).strip()


def name_search(text: str) -> str:
    """What a typed name filter looks for: the text as typed, punctuation and spaces included,
    case folded (:func:`fold_case`), so "ÉCOLE" finds "école" and "STRASSE" finds "Straße".
    Empty when the text is only spaces: no filter.

    A name matches when its folded form holds this. Both stores answer alike: the store's
    ``name_norm`` (:func:`normalise_name`) holds the folded name less punctuation, so a search
    of letters and digits only (:func:`plain_search`) is a substring test on ``name_norm``,
    which an index serves (SQLite FTS5 trigram, PostgreSQL pg_trgm); any other is that test
    (a superset) then ``syncview_fold(name)`` holding the search, row by row."""
    return fold_case(text) if text.strip() else ""


def plain_search(search: str) -> bool:
    """Whether a :func:`name_search` has only letters, digits and underscores: then a name
    holds it exactly when the name's ``name_norm`` does, with no row read."""
    return bool(search) and normalise_name(search) == search and " " not in search


def name_contains(name: str, search: str) -> bool:
    """Whether ``name`` holds :func:`name_search`'s ``search``: the SQL filter's test, in Python."""
    return search in fold_case(name)


def integration_name(name: str) -> str:
    """An integration's name as syncview keeps it: NFC, invisible characters dropped, no
    spaces around it.

    "Café" typed on a Mac (NFD) and on Linux (NFC), "Halo" with a zero-width space pasted from
    a web page, and "Halo " are the same name to a person: they are one name here too.
    """
    text = unicodedata.normalize("NFC", name)
    if not text.isprintable():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.strip()


def integration_key(name: str) -> str:
    """What two integration names are compared by: :func:`integration_name`, case-blind."""
    return integration_name(name).casefold()


def xref(kind: str, type_: ResourceType, external_id: str) -> str:
    """How one product names one of its items to others: ``kind:type:id``.

    ``kind`` is the connector's registry key, ``type_`` the syncview type the item maps
    onto: a Datto RMM site's ``autotaskCompanyId`` 29683512 is ``autotask:client:29683512``,
    the same string the Autotask connector's company 29683512 is known by.
    """
    return f"{kind}:{type_.value}:{external_id}"


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """What identifies an item besides its name, as the product sent it.

    Connectors copy the fields their API returns and nothing more; the core
    (``syncview.identity``) normalises them and drops placeholder values, so a
    connector never decides what counts as a real serial or MAC.
    """

    #: a device's serial number
    serial: str | None = None
    #: a device's MAC addresses, any notation, any number
    macs: tuple[str, ...] = ()
    #: a device's host name, with or without its domain
    hostname: str | None = None
    #: a contact's e-mail address
    email: str | None = None
    #: the same thing's ids in other products, each made by :func:`xref`
    xrefs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.serial or self.macs or self.hostname or self.email or self.xrefs)


NO_KEYS = IdentityKeys()


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """One item as a connector fetched it, before the store knows it."""

    type: ResourceType
    external_id: str
    name: str
    remote_company: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    #: identity keys besides the name (serial, MACs, host name, e-mail, cross-references)
    keys: IdentityKeys = NO_KEYS
