"""Every third-party package the project imports is declared, and students get ranges, not pins.

Imports are collected from course_utils, tests, tools, benchmarks and the code cells of every
lesson notebook, mapped to their distribution names through the installed packages' metadata,
and looked up in pyproject.toml; what students run (course_utils and the lessons) must also be
in environment.yml, the students' conda file, which holds no grading or test tools.
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

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"course_utils", "tools", "tests", "nbgrader_config"} | {p.stem for p in (ROOT / "tests").glob("*.py")}


def _written_by_lessons() -> set[str]:
    """Modules a lesson writes itself and then imports (lesson 01 writes random_draws.py for its workers)."""
    written: set[str] = set()
    for notebook in (ROOT / "solutions").glob("*/*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        written |= set(re.findall(r'\(\w+ / \\"(\w+)\.py\\"\)\.write_text\(', text))
    return written


LOCAL |= _written_by_lessons()
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


def imported_modules(folders: tuple[str, ...] = ("course_utils", "tests", "tools", "benchmarks")) -> set[str]:
    sources = [p.read_text(encoding="utf-8") for folder in folders for p in (ROOT / folder).rglob("*.py")]
    for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        sources += ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    modules: set[str] = set()
    for source in sources:
        modules |= _modules_in_source(source)
    if sys.version_info >= (3, 11):
        modules.discard("tomli")  # imported only on Python 3.10, where tomllib is missing (declared with a marker)
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


def _conda_names() -> set[str]:
    lines = (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    return {_requirement_name(line.strip()[2:]) for line in lines if re.match(r"^\s+- [A-Za-z]", line)}


@pytest.mark.maintainer_stack  # tools import nbgrader, which only the maintainers' environment has
def test_every_import_is_declared_in_pyproject_and_environment_yml() -> None:
    distributions = _distributions(imported_modules())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {_requirement_name(r) for r in extra}
    missing_py = sorted({d for d in distributions.values() if d not in declared})
    assert not missing_py, f"pyproject.toml: these imported packages are not declared: {missing_py}"
    # course_utils.image_io uses TorchCodec only where it loads; course_utils.pretrained_clip touches huggingface_hub (a
    # dependency of open_clip) only to switch its telemetry off, and does without it; course_utils.unanswered imports
    # IPython only inside a Jupyter kernel, which always has it (the lessons extra and environment.yml's ipykernel)
    optional = {"torchcodec", "huggingface-hub", "ipython"}
    student = {d for d in _distributions(imported_modules(("course_utils",))).values()} - optional
    core = {_requirement_name(r) for r in project["dependencies"]}
    assert not sorted(student - core), f"pyproject.toml dependencies: course_utils imports {sorted(student - core)}"
    missing_conda = sorted({d for d in student if CONDA_NAMES.get(d, d) not in _conda_names()})
    assert not missing_conda, f"environment.yml: these imported packages are not declared: {missing_conda}"


def test_students_get_ranges_and_no_grading_tools() -> None:
    """environment.yml and the student extras hold ranges only, no grading/test tools, no TorchCodec."""
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    pins = re.findall(r"^\s+- ([A-Za-z][\w.-]*)\s*(==|=)\s*\d", text, re.MULTILINE)
    assert not pins, f"environment.yml pins exact versions: {pins} (conda-forge may not have them)"
    tools = {"nbgrader", "nbval", "nbclient", "nbconvert", "pytest", "pytest-xdist", "pytest-cov", "torchcodec"}
    assert not sorted(_conda_names() & tools), f"environment.yml gives students {sorted(_conda_names() & tools)}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for group, requirements in [("dependencies", project["dependencies"]), *project["optional-dependencies"].items()]:
        exact = [r for r in requirements if "==" in r]
        assert not exact, f"pyproject.toml {group}: exact pins {exact} belong in requirements-lock.txt"
    core = {_requirement_name(r) for r in project["dependencies"]}
    assert "torchcodec" not in core and {"torch", "torchvision"} <= core


@pytest.mark.maintainer_stack  # the installed versions are the lock's only in the maintainers' environment
def test_lock_pins_every_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"]) + [
        r for extra in project["optional-dependencies"].values() for r in extra if not r.startswith("course-utils")
    ]
    pinned = {}
    for line in (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";", 1)[0].split("==")
            pinned[_normalise(name.strip())] = version.strip()
    applicable = [r for r in requirements if ";" not in r or Requirement(r).marker.evaluate()]
    unpinned = sorted(_requirement_name(r) for r in applicable if _requirement_name(r) not in pinned)
    assert not unpinned, f"requirements-lock.txt: no pinned version for {unpinned}"
    for requirement in applicable:
        name = _requirement_name(requirement)
        installed = importlib.metadata.version(name)
        assert installed == pinned[name], f"{name}: requirements-lock.txt pins {pinned[name]}, installed {installed}"


def test_scanner_finds_imports() -> None:
    assert _modules_in_source("import torch.nn as nn\nfrom PIL import Image\n%matplotlib inline") == {"torch", "PIL"}
