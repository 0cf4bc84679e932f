"""Every third-party package the project imports is declared in pyproject.toml and environment.yml.

Imports are collected from course_utils, tests, tools, benchmarks and the code
cells of every lesson notebook, mapped to their distribution names through the
installed packages' metadata, and looked up in both declarations.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (the oldest supported stack)
    import tomli as tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"course_utils", "tools", "tests", "conftest", "course_harness", "nbgrader_config"}
# conda-forge names that differ from the PyPI distribution names.
CONDA_NAMES = {"torch": "pytorch", "matplotlib": "matplotlib-base", "open-clip-torch": "open-clip-torch"}


def _modules_in_source(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # notebook cells with magics
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def imported_modules() -> set[str]:
    sources = [p.read_text(encoding="utf-8") for folder in ("course_utils", "tests", "tools", "benchmarks")
               for p in (ROOT / folder).rglob("*.py")]
    for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        sources += ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    modules: set[str] = set()
    for source in sources:
        modules |= _modules_in_source(source)
    return {m for m in modules if m not in sys.stdlib_module_names and m not in LOCAL and not m.startswith("_")}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions(modules: set[str]) -> dict[str, str]:
    mapping = importlib.metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in mapping)
    assert not missing, f"imported modules that no installed distribution provides: {missing}"
    return {m: _normalise(mapping[m][0]) for m in modules}


def _requirement_name(requirement: str) -> str:
    return _normalise(re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0])


def test_every_import_is_declared_in_pyproject_and_environment_yml() -> None:
    distributions = _distributions(imported_modules())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {_requirement_name(r) for r in extra}
    conda_lines = (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    conda = {_requirement_name(line.strip()[2:]) for line in conda_lines if re.match(r"^\s+- [A-Za-z]", line)}
    missing_py = sorted({d for d in distributions.values() if d not in declared})
    missing_conda = sorted({d for d in distributions.values() if CONDA_NAMES.get(d, d) not in conda})
    assert not missing_py, f"pyproject.toml: these imported packages are not declared: {missing_py}"
    assert not missing_conda, f"environment.yml: these imported packages are not declared: {missing_conda}"


def test_lock_pins_every_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    pinned = {
        _normalise(line.split("==")[0]): line.split("==")[1]
        for line in (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    unpinned = sorted(_requirement_name(r) for r in requirements if _requirement_name(r) not in pinned)
    assert not unpinned, f"requirements-lock.txt: no pinned version for {unpinned}"
    for requirement in requirements:
        name = _requirement_name(requirement)
        installed = importlib.metadata.version(name)
        assert installed == pinned[name], f"{name}: requirements-lock.txt pins {pinned[name]}, installed {installed}"


def test_scanner_finds_imports() -> None:
    assert _modules_in_source("import torch.nn as nn\nfrom PIL import Image\n%matplotlib inline") == {"torch", "PIL"}
