"""The core never imports Textual: the TUI (``syncview.tui``) is one face over it, the CLI the other.

Checked in a fresh interpreter, so a transitive import (a core module importing a
helper that imports Textual) is caught too, and nothing this test session already
imported can hide one.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import syncview

PACKAGE_DIR = Path(syncview.__file__).parent


def core_modules() -> list[str]:
    """Every module of the syncview package outside ``syncview.tui``, found on disk (importing nothing)."""
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ("syncview", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if len(parts) > 1 and parts[1] == "tui":
            continue
        if parts[-1] == "__main__":
            continue  # running it would start the CLI
        names.append(".".join(parts))
    return names


_PROBE = """
import importlib, json, sys
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
textual = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({"failed": failed, "textual": textual}))
"""


def test_no_core_module_imports_textual():
    modules = core_modules()
    assert {"syncview.cli", "syncview.config", "syncview.store.db", "syncview.services.actions"} <= set(modules)
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(modules)],
                          capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout)
    assert found["failed"] == {}, "core modules that do not even import"
    assert found["textual"] == [], "Textual was imported by the core"


def test_the_probe_would_see_textual():
    """Guard against a probe that can never fail: importing Textual must show up."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(["textual.app"])],
                          capture_output=True, text=True, timeout=120, check=True)
    assert "textual.app" in json.loads(done.stdout)["textual"]


# --- the shape, checked by the tools configured in pyproject.toml --------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _run_tool(module: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: pip install -e '.[test]' installs it")
    return subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_import_layers_hold():
    """import-linter's contracts in pyproject.toml: the layers, and no Textual or rich in the core."""
    done = _run_tool("importlinter", ["-c", "from importlinter.cli import lint_imports_command as run; run()",
                                      "--config", str(ROOT / "pyproject.toml"), "--no-cache"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_types_check():
    """mypy as configured in pyproject.toml (strict on the core)."""
    done = _run_tool("mypy", ["-m", "mypy"])
    assert done.returncode == 0, done.stdout + done.stderr
