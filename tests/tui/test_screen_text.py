"""Outside text reaches the screen only through ``tui/text.py``'s ``shown`` (or a notification).

A static read of every module under ``src/syncview/tui``: each place that gives a widget text
(``Static``, ``Label``, ``Button``, ``Option``, ``DataTable.add_row``/``add_column``, a
``Select``'s options, ``update``, a border title or subtitle) must give it a literal we wrote,
a variable, or a call; an f-string, an attribute (``row.name``), an index, ``str()``, or
``printable()`` would be a ``str`` that Textual parses as markup, so it fails this test, naming
the file and line. The fix is ``shown(...)``. Notifications are covered by the app's own
``notify`` (see test_hostile_text.py), not here.
"""

from __future__ import annotations

import ast
from pathlib import Path

TUI = Path(__file__).parents[2] / "src" / "syncview" / "tui"

#: Callables whose positional arguments become screen text.
#: (A rich Text, and Text.assemble/append, never parse markup: they are how text gets here safely.)
SINK_CALLS = {"Static", "Label", "Button", "Option", "add_row", "add_column", "update", "set_options", "Select"}
#: Attributes whose assigned value becomes screen text.
SINK_ATTRIBUTES = {"border_title", "border_subtitle"}
#: Keyword arguments that carry text to show (the rest are ids, styles, values).
TEXT_KEYWORDS = {"label", "prompt", "renderable", "content", "text"}
#: Calls that make plain str from outside text: wrap their result in shown() instead.
STR_MAKERS = {"str", "printable", "redact", "format", "join", "repr"}


def _offenders(node: ast.AST) -> list[ast.AST]:
    """Sub-expressions of a sink's argument that would hand the widget a str made of outside text."""
    if isinstance(node, ast.Constant | ast.Name | ast.Lambda):
        return []
    if isinstance(node, ast.JoinedStr):
        return [] if all(isinstance(v, ast.Constant) for v in node.values) else [node]
    if isinstance(node, ast.Attribute | ast.Subscript):
        return [node]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in STR_MAKERS:
            return [node]
        return []
    if isinstance(node, ast.BinOp):
        return _offenders(node.left) + _offenders(node.right)
    if isinstance(node, ast.IfExp):
        return _offenders(node.body) + _offenders(node.orelse)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        # A (prompt, value) pair: only the prompt is shown.
        elements = node.elts[:1] if isinstance(node, ast.Tuple) and len(node.elts) == 2 else node.elts
        return [bad for e in elements for bad in _offenders(e)]
    if isinstance(node, ast.ListComp | ast.GeneratorExp):
        return _offenders(node.elt)
    if isinstance(node, ast.Starred):
        return _offenders(node.value)
    return []


def screen_text_bypasses(root: Path = TUI) -> list[str]:
    """``file:line: code`` for every place a widget gets text other than through shown()."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "text.py":
            continue  # the mechanism itself
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in ast.walk(tree):
            values: list[ast.AST] = []
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if name not in SINK_CALLS:
                    continue
                values = [*node.args, *(k.value for k in node.keywords if k.arg in TEXT_KEYWORDS)]
            elif isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if not any(isinstance(t, ast.Attribute) and t.attr in SINK_ATTRIBUTES for t in targets):
                    continue
                values = [node.value]
            for value in values:
                for bad in _offenders(value):
                    found.append(f"{path.relative_to(root)}:{bad.lineno}: {ast.get_source_segment(source, bad)}")
    return sorted(found, key=lambda line: (line.split(":")[0], int(line.split(":")[1])))


def test_every_widget_gets_outside_text_through_shown():
    assert screen_text_bypasses() == []


def test_the_check_catches_a_bypass(tmp_path):
    """The check can fail: a widget given an f-string of a name, or row.name, is found."""
    (tmp_path / "bad.py").write_text(
        "def compose(self, row):\n"
        "    yield Static(f'Exclude {row.name}')\n"
        "    table.add_row(row.name, shown(row.record))\n"
        "    box.border_title = printable(row.name)\n", encoding="utf-8")
    assert screen_text_bypasses(tmp_path) == ["bad.py:2: f'Exclude {row.name}'", "bad.py:3: row.name", "bad.py:4: printable(row.name)"]
