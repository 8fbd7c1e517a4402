"""modelgate.ci runs with the runner's system python3 and nothing installed (pr-comment.yml):
everything it imports, to the last module, is the standard library or stdlib-only modelgate
code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"
ENTRY = ("modelgate.ci.comment", "modelgate.ci.artifacts")


def _file(module: str) -> Path:
    path = SRC.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(module: str) -> set[str]:
    """Every module an import statement anywhere in `module` names, function bodies included."""
    tree = ast.parse(_file(module).read_text(), feature_version=(3, 10))  # ubuntu-22.04's
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {
                f"{node.module}.{a.name}"
                for a in node.names
                if _file(f"{node.module}.{a.name}").exists()
            }
    return names


def _closure() -> set[str]:
    seen: set[str] = set()
    todo = list(ENTRY)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        todo += [m for m in [*parents, *_imports(module)] if m.split(".")[0] == "modelgate"]
        seen |= {m for m in _imports(module) if m.split(".")[0] != "modelgate"}
    return seen


def test_the_import_closure_is_the_standard_library_and_stdlib_only_modelgate() -> None:
    closure = _closure()
    outside = sorted(
        m for m in closure if m.split(".")[0] not in {*sys.stdlib_module_names, "modelgate"}
    )
    assert outside == []
    assert not [m for m in closure if m.startswith(("modelgate.report", "modelgate.gates"))]


def test_the_command_starts_without_site_packages() -> None:
    code = "import json, sys, modelgate.ci.comment, modelgate.ci.artifacts\n"
    code += "print(json.dumps([*sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    allowed = {*sys.stdlib_module_names, "modelgate", "__main__"}
    assert not [m for m in json.loads(done.stdout) if m.split(".")[0] not in allowed]
