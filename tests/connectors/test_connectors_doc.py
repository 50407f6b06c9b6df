"""docs/connectors.md works as written: its Python blocks, run in order as one module, define
the example connector, its fake and its tests, and those tests pass here."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def _example() -> types.ModuleType:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    module = types.ModuleType("connectors_doc_example")
    exec(compile("\n\n".join(blocks), str(DOC), "exec"), module.__dict__)  # noqa: S102 - our own doc
    return module


EXAMPLE = _example()
TESTS = sorted(name for name in vars(EXAMPLE) if name.startswith("test_"))


def test_the_guide_has_a_connector_a_fake_and_tests() -> None:
    from syncview.connectors.http import HttpConnector
    from tests.connectors.fakes.wsgi import FakeServer

    assert issubclass(EXAMPLE.AcmeInventoryConnector, HttpConnector)
    assert issubclass(EXAMPLE.FakeAcme, FakeServer)
    assert len(TESTS) >= 4


@pytest.mark.parametrize("name", TESTS)
def test_the_guides_example_passes(name: str, request: pytest.FixtureRequest) -> None:
    test = getattr(EXAMPLE, name)
    fixtures = {parameter: request.getfixturevalue(parameter) for parameter in inspect.signature(test).parameters}
    test(**fixtures)
