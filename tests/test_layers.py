"""The layers DESIGN.md draws: no import circle, no wire key above client/, sensors do not import operators.

Imports are read from the source (module-level and inside functions alike, ``TYPE_CHECKING`` blocks aside), so
a lazy import that closes a circle counts too.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_fateflow"
ROOT = PACKAGE.name


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` blocks are for type checkers only
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    here = _module(path)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(ROOT))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + (1 if path.name == "__init__.py" else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith(ROOT):
                found.add(base)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in _imports(path):
            while target not in modules and "." in target:  # `from pkg import name` of a module's member
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and not name.startswith(target + "."):
                targets.add(target)
        graph[name] = targets
    return graph


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_sensors_do_not_import_operators_and_client_imports_no_airflow():
    graph = _graph()
    assert not [m for m in graph[f"{ROOT}.sensors.fateflow"] if m.startswith(f"{ROOT}.operators")]
    for path in (PACKAGE / "client").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) airflow\b", text, re.M), path


def test_no_wire_key_above_client():
    """FATE's database columns and envelope keys are read in client/ only (comments and docstrings aside)."""
    wire = re.compile(r"""["']f_[a-z_]+["']|\bretcode\b|\bretmsg\b""")
    offenders = []
    for folder in ("operators", "sensors", "triggers", "links"):
        for path in (PACKAGE / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and wire.search(repr(node.value)):
                    if not _is_docstring(tree, node):
                        offenders.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
                elif isinstance(node, (ast.Attribute, ast.Name)):
                    name = node.attr if isinstance(node, ast.Attribute) else node.id
                    if name in ("retcode", "retmsg") or name.startswith("f_"):
                        offenders.append(f"{path.name}:{node.lineno}: {name}")
    examples = Path(__file__).resolve().parents[1] / "dags"
    for path in examples.rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if wire.search(code) or re.search(r"\.raw\b", code):
                offenders.append(f"{path.name}:{lineno}: {line.strip()[:60]}")
    assert not offenders, offenders


def _is_docstring(tree: ast.AST, node: ast.Constant) -> bool:
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and body[0].value is node:
            return True
    return False
