"""Name similarity that respects numbers: how candidates are ranked for a person to choose from.

Similarity never links anything on its own (the matching rules do that, on exact keys).
It orders the records an operator may re-match a resource to, and the proposals of a
bulk re-match. Numbers in names are identities, not spelling: INITEC-LT-353 and
INITEC-LT-133 score 86 as strings but are two machines, so a candidate whose numbers
differ from the name's ranks after every candidate whose numbers agree, and says why.
Leading zeros are spelling (WS-014 is WS-14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import zip_longest

from rapidfuzz import fuzz, process

from syncview.domain import normalise_name

_LEGAL_SUFFIXES = re.compile(
    r"\b(inc|incorporated|corp|corporation|co|company|llc|ltd|limited|plc|gmbh|ag|sa|bv|pty)\b"
)
_DIGITS = re.compile(r"\d+")

#: (id, score): a choice and how similar it is to the query, 0-100.
Ranked = list[tuple[int, float]]


def similarity_key(name: str) -> str:
    """A name reduced for similarity: normalised, legal-form words dropped, numbers without
    leading zeros. Two names with the same key are the same name spelt another way."""
    text = _LEGAL_SUFFIXES.sub(" ", normalise_name(name))
    return " ".join(_DIGITS.sub(lambda m: str(int(m.group())), text).split())


def _numbers(name: str) -> list[str]:
    return _DIGITS.findall(name)


def _signature(key: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _DIGITS.findall(key))


def number_difference(a: str, b: str) -> str | None:
    """How two names differ in their numbers, as a person reads it ("353 vs 133", "none vs 2"),
    or None when their numbers agree (compared as numbers, in order)."""
    for x, y in zip_longest(_numbers(a), _numbers(b)):
        if x is None or y is None or int(x) != int(y):
            return f"{x or 'none'} vs {y or 'none'}"
    return None


class Ranker:
    """Choices keyed once, ranked for many queries: by similarity, numbers respected."""

    def __init__(self, choices: Mapping[int, str]) -> None:
        self.keys: dict[int, str] = {key: similarity_key(name) for key, name in choices.items()}
        self._by_numbers: dict[tuple[int, ...], dict[int, str]] = {}
        self._equal: dict[str, list[int]] = {}
        for choice, key in self.keys.items():
            self._by_numbers.setdefault(_signature(key), {})[choice] = key
            self._equal.setdefault(key, []).append(choice)

    def __len__(self) -> int:
        return len(self.keys)

    def equal(self, name: str) -> list[int]:
        """The choices whose similarity key equals the name's (score 100), in the choices' order."""
        return list(self._equal.get(similarity_key(name), ()))

    def rank(self, query: str, *, limit: int = 50, numbers: bool = True) -> Ranked:
        """The ``limit`` choices most similar to ``query``, best first, with a 0-100 score.

        With ``numbers`` (ranking by a resource's name) the choices whose numbers agree with
        the query's come first; without (ranking by what an operator typed) similarity alone.
        """
        key = similarity_key(query)
        if not numbers:
            return _extract(key, self.keys, limit)
        agreeing = self._by_numbers.get(_signature(key), {})
        ranked = _extract(key, agreeing, limit)
        if len(ranked) < limit and len(agreeing) < len(self.keys):
            # Every agreeing choice is in ``ranked`` already: the rest are the ones that disagree.
            rest = _extract(key, self.keys, limit + len(agreeing))
            ranked += [(choice, score) for choice, score in rest if choice not in agreeing][:limit - len(ranked)]
        return ranked


def _extract(key: str, keyed: Mapping[int, str], limit: int) -> Ranked:
    if not keyed or limit <= 0:
        return []
    found = process.extract(key, keyed, scorer=fuzz.WRatio, limit=limit, processor=None)
    return [(choice, round(score, 1)) for _, score, choice in found]


def rank(query: str, choices: Mapping[int, str], *, limit: int = 50, numbers: bool = True) -> Ranked:
    """Ids of ``choices`` most similar to ``query``, best first (see :meth:`Ranker.rank`)."""
    return Ranker(choices).rank(query, limit=limit, numbers=numbers)


def rank_many(queries: Mapping[int, str], choices: Mapping[int, str], *, limit: int = 50) -> dict[int, Ranked]:
    """:func:`rank` for many names against the same choices, keying the choices once."""
    ranker = Ranker(choices)
    return {query_id: ranker.rank(query, limit=limit) for query_id, query in queries.items()}
