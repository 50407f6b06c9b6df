"""The screen's workers keep one style (tui/work.py), read from the source of every TUI module:
``@work(thread=True)`` methods that post messages, no ``call_from_thread`` or ``run_worker``
beside them, no catch-all inside a worker, and every class that runs a worker forwards its
failures (else a failed worker would say nothing at all)."""

from __future__ import annotations

import ast
from pathlib import Path

TUI = Path(__file__).parents[2] / "src" / "syncview" / "tui"


def _is_work(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Name) and target.id == "work"


def worker_style_breaks(root: Path = TUI) -> list[str]:
    """``file:line: what`` for each place that leaves the one style."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(root)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("call_from_thread", "run_worker"):
                found.append(f"{name}:{node.lineno}: {node.attr}")
            if not isinstance(node, ast.ClassDef):
                continue
            workers = [item for item in node.body if isinstance(item, ast.FunctionDef)
                       and any(_is_work(d) for d in item.decorator_list)]
            forwards = any(
                (isinstance(item, ast.FunctionDef) and item.name == "on_worker_state_changed")
                or (isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "on_worker_state_changed"
                                                         for t in item.targets))
                for item in node.body)
            if workers and not forwards:
                found.append(f"{name}:{node.lineno}: {node.name} runs workers but does not forward their failures")
            for worker in workers:
                for inner in ast.walk(worker):
                    if isinstance(inner, ast.ExceptHandler) and (
                            inner.type is None
                            or (isinstance(inner.type, ast.Name) and inner.type.id in ("Exception", "BaseException"))):
                        found.append(f"{name}:{inner.lineno}: a catch-all in worker {worker.name}")
    return found


def test_every_worker_keeps_the_one_style():
    assert worker_style_breaks() == []


def test_the_check_catches_each_break(tmp_path):
    (tmp_path / "bad.py").write_text(
        "class Quiet(Widget):\n"
        "    @work(thread=True)\n"
        "    def _load(self):\n"
        "        try:\n"
        "            self.post_message(Loaded(read()))\n"
        "        except Exception as error:\n"
        "            self.app.call_from_thread(self.notify, str(error))\n"
        "\n"
        "class Fine(Widget):\n"
        "    on_worker_state_changed = forward_failure\n"
        "    @work(thread=True)\n"
        "    def _load(self):\n"
        "        self.post_message(Loaded(read()))\n", encoding="utf-8")
    assert worker_style_breaks(tmp_path) == [
        "bad.py:1: Quiet runs workers but does not forward their failures",
        "bad.py:6: a catch-all in worker _load",
        "bad.py:7: call_from_thread",
    ]
