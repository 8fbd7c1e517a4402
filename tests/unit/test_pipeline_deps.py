"""`dvc.yaml` deps are all DVC knows of the code and libraries: prove them complete.

Each stage's command runs one module; every module of the package it imports, directly or
through others, must be one of the stage's deps, and every third-party distribution it imports
must be one of its `libraries.yaml` params, so a change to either reruns the stage (issue 9).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from modelgate.libraries import normalize

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "modelgate"
LIBRARIES = "libraries.yaml"


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Every module name `path` imports at any level (lazy imports inside functions count:
    they run when the stage does)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@cache
def closure(module: str) -> tuple[frozenset[Path], frozenset[str]]:
    """The package files `module` runs (itself, what it imports, and their parent packages'
    `__init__`), and the top-level names of the third-party modules they import."""
    files: set[Path] = set()
    external: set[str] = set()
    todo = [module]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.split(".")[0] != PACKAGE:
            top = name.split(".")[0]
            if top and top not in sys.stdlib_module_names and top != "__future__":
                external.add(top)
            continue
        path = _module_file(name)
        if path is None:
            continue  # `from modelgate.x import some_function`
        files.add(path)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        todo += sorted(_imports(path, name))
    return frozenset(files), frozenset(external)


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _entry_module(cmd: str) -> str:
    match = re.search(r"python -m ([\w.]+)", cmd)
    assert match, f"stage command {cmd!r} runs no `python -m` module"
    return match.group(1)


def _library_params(stage: dict) -> set[str]:
    for entry in stage.get("params", []):
        if isinstance(entry, dict) and LIBRARIES in entry:
            return set(entry[LIBRARIES])
    return set()


def _distribution(top_level: str) -> str:
    names = importlib.metadata.packages_distributions().get(top_level)
    assert names, f"no installed distribution provides the module {top_level!r}"
    # `ruamel` is shared by ruamel.yaml and ruamel.yaml.clib: the shortest name is the library.
    return normalize(min(names, key=len))


STAGES = _stages()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_package_module_a_stage_runs_is_one_of_its_deps(name: str) -> None:
    stage = STAGES[name]
    files, _ = closure(_entry_module(stage["cmd"]))
    needed = {str(p.relative_to(ROOT)) for p in files}
    missing = needed - set(stage["deps"])
    assert not missing, f"dvc.yaml stage {name!r} omits deps {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_no_stage_lists_package_code_it_does_not_run(name: str) -> None:
    stage = STAGES[name]
    files, _ = closure(_entry_module(stage["cmd"]))
    needed = {str(p.relative_to(ROOT)) for p in files}
    listed = {d for d in stage["deps"] if d.startswith(f"src/{PACKAGE}/")}
    assert not listed - needed, f"stage {name!r} lists code it never imports: {listed - needed}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_library_a_stage_imports_is_one_of_its_library_params(name: str) -> None:
    stage = STAGES[name]
    _, external = closure(_entry_module(stage["cmd"]))
    needed = {_distribution(top) for top in external}
    missing = needed - _library_params(stage)
    assert not missing, f"stage {name!r}: add {sorted(missing)} to its `{LIBRARIES}` params"


def test_imports_run_downward() -> None:
    """No stage imports another stage, no gate the report, and serving only core modules."""
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        imported = {m for m in _imports(path, module) if m.startswith(f"{PACKAGE}.")}
        if module.startswith(f"{PACKAGE}.stages."):
            others = {m for m in imported if m.startswith(f"{PACKAGE}.stages.")}
            assert not others, f"{module} imports another stage: {others}"
        if module.startswith(f"{PACKAGE}.gates"):
            report = {m for m in imported if m.startswith(f"{PACKAGE}.report")}
            assert not report, f"{module} imports the PR report: {report}"
        if module.startswith(f"{PACKAGE}.serve"):
            # Core modules are the package's top-level ones (`modelgate.params`, `.metadata`...).
            foreign = {
                m
                for m in imported
                if not m.startswith(f"{PACKAGE}.serve")
                and _module_file(m) is not None
                and _module_file(m).parent != SRC / PACKAGE  # type: ignore[union-attr]
            }
            assert not foreign, f"{module} imports more than core modules: {foreign}"


def test_the_closure_follows_lazy_and_parent_package_imports(tmp_path: Path) -> None:
    files, external = closure("modelgate.stages.ingest")
    names = {str(p.relative_to(SRC)) for p in files}
    assert {"modelgate/__init__.py", "modelgate/stages/__init__.py", "modelgate/io.py"} <= names
    assert "modelgate/gates/contract.py" in names
    assert "ruamel" in external  # imported inside io.load_yaml only
    assert "modelgate/serve/app.py" not in names
