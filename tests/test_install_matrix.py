"""The course installs where learners run it: dependency resolutions for other platforms and Pythons.

Nothing is installed here: these tests ask the resolvers what an install *would* do.

* Colab: the set-up cell's own pip command, resolved by pip on Python 3.12 (``--dry-run --report``)
  against Colab's preinstalled torch 2.9.1 / torchvision 0.24.1, must keep both and choose no TorchCodec.
* The maintainers' lock (requirements-lock.txt) must resolve to exactly its pins on Linux x86-64,
  macOS arm64 and Windows x86-64 for Python 3.11-3.13, and refuse Python 3.10 (the README says so).
* A student install (``pip install -e ".[lessons]"``, ranges) must resolve on all of those for
  Python 3.10-3.13.
* The oldest-stack lock (requirements-oldest.txt) must be complete for Python 3.10 on Linux.

pip evaluates environment markers against the interpreter that runs it, even with ``--platform``
(pip issue 11664), so resolutions for other platforms use uv's resolver (``--python-platform``).
These tests need PyPI; CI has it (a missing index fails there), a learner offline gets a skip.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.course import REPO_ROOT, quick_env
from tools.repo_url import read_settings

pytestmark = pytest.mark.needs_index

PLATFORMS = {"linux": "x86_64-manylinux_2_28", "macos-arm64": "aarch64-apple-darwin", "windows": "x86_64-pc-windows-msvc"}
COLAB = {"torch": "2.9.1", "torchvision": "0.24.1"}  # Colab's preinstalled pair, late 2026 (PyPI builds)


@functools.cache
def _index_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def package_index() -> None:
    if not _index_reachable():
        if os.environ.get("CI"):
            pytest.fail("PyPI cannot be reached: CI must run the resolver checks")
        pytest.skip("PyPI cannot be reached (offline): the resolver checks run in CI")


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split(";", 1)[0].split("==")
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def uv_compile(requirements: list[str], python: str, platform: str) -> tuple[int, dict[str, str], str]:
    """Resolve with uv for another Python/platform; return (exit code, {name: version}, stderr)."""
    cmd = [_uv(), "pip", "compile", *requirements, "--python-version", python, "--python-platform", platform,
           "--no-header", "--no-annotate", "--quiet", "--no-config", "--index-url", "https://pypi.org/simple"]
    # torch 2.15's macOS wheels need macOS 14 (Sonoma) or newer; uv's default is 13
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", MACOSX_DEPLOYMENT_TARGET="14.0")
    result = subprocess.run(cmd, cwd=REPO_ROOT, text=True, capture_output=True, timeout=300, env=env, check=False)
    resolved = {}
    for line in result.stdout.splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";", 1)[0].split("==")
            resolved[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return result.returncode, resolved, result.stderr


LOCK_PYTHONS = ["3.11.5", "3.12", "3.13"]
STUDENT_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@pytest.fixture(scope="module")
def resolutions() -> dict[tuple[str, str, str], tuple[int, dict[str, str], str]]:
    """Every uv resolution of this module, run side by side (they wait on the network, not the CPU)."""
    jobs = {("lock", py, plat): [str(REPO_ROOT / "requirements-lock.txt")] for py in [*LOCK_PYTHONS, "3.10"]
            for plat in PLATFORMS}
    jobs |= {("student", py, plat): ["pyproject.toml", "--extra", "lessons"] for py in STUDENT_PYTHONS for plat in PLATFORMS}
    jobs[("oldest", "3.10", "linux")] = [str(REPO_ROOT / "requirements-oldest.txt")]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {key: pool.submit(uv_compile, args, key[1], PLATFORMS[key[2]]) for key, args in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("python", LOCK_PYTHONS)
def test_lock_resolves_to_exactly_its_pins(python: str, platform: str, resolutions) -> None:
    lock = REPO_ROOT / "requirements-lock.txt"
    rc, resolved, err = resolutions[("lock", python, platform)]
    assert rc == 0, f"requirements-lock.txt does not install on {platform} with Python {python}:\n{err[-3000:]}"
    pins = _pins(lock)
    unpinned = sorted(set(resolved) - set(pins))
    assert not unpinned, f"{platform}, Python {python}: the lock misses {unpinned} (regenerate it with uv --universal)"
    moved = {name: (pins[name], version) for name, version in resolved.items() if pins[name] != version}
    assert not moved, f"{platform}, Python {python}: versions differ from the pins: {moved}"
    assert resolved["torch"] == pins["torch"] and ("nvidia-cublas" in resolved) == (platform == "linux")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_lock_states_and_enforces_its_python_range(platform: str, resolutions) -> None:
    """The lock needs Python >= 3.11.5; README and ./course say so, and a 3.10 resolution fails."""
    rc, _, err = resolutions[("lock", "3.10", platform)]
    assert rc != 0 and "3.11" in err, err[-2000:]
    assert "Python 3.11.5–3.13" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert 'lowest="3.11.5" below="3.14"' in (REPO_ROOT / "course").read_text(encoding="utf-8")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("python", STUDENT_PYTHONS)
def test_student_install_resolves(python: str, platform: str, resolutions) -> None:
    """``pip install -e ".[lessons]"``: the ranges of pyproject.toml, no TorchCodec, torch >= 2.9."""
    rc, resolved, err = resolutions[("student", python, platform)]
    assert rc == 0, f"the student install fails on {platform} with Python {python}:\n{err[-3000:]}"
    assert "torchcodec" not in resolved and "nbgrader" not in resolved and "jupyterlab" in resolved
    major, minor = (int(x) for x in resolved["torch"].split(".")[:2])
    assert (major, minor) >= (2, 9), resolved["torch"]


def test_oldest_lock_is_complete_for_python_310(resolutions) -> None:
    lock = REPO_ROOT / "requirements-oldest.txt"
    rc, resolved, err = resolutions[("oldest", "3.10", "linux")]
    assert rc == 0, err[-3000:]
    pins = _pins(lock)
    assert resolved == {name: pins[name] for name in resolved} and set(resolved) <= set(pins)
    assert (pins["torch"], pins["torchvision"]) == ("2.9.1", "0.24.1") and "torchcodec" not in pins


# --- Colab: the set-up cell's own pip command ------------------------------------------------------

def _python(version: str) -> str:
    found = shutil.which(f"python{version}")
    candidates = [found] if found else []
    candidates += sorted(str(p) for p in Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob(
        f"versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        if subprocess.run([candidate, "-c", "import sys"], capture_output=True, check=False).returncode == 0:
            return candidate
    raise AssertionError(f"Python {version} is needed for the Colab check (Colab runs {version}); install it "
                         f"(e.g. `pyenv install {version}`) or put python{version} on PATH")


def setup_cell_pip_args(package: str) -> list[str]:
    """The arguments the set-up cell gives `pip install` in a fresh Colab runtime (executed, pip recorded)."""
    from test_notebooks_execute import SETUP_HARNESS

    env = quick_env({"COURSE_PACKAGE": package})
    result = subprocess.run([sys.executable, "-c", SETUP_HARNESS, "absent"], input=read_settings().setup_cell(),
                            text=True, capture_output=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    (call,) = ast.literal_eval(result.stdout.split("PIP-CALLS:")[-1].strip())
    assert call[1:4] == ["-m", "pip", "install"], call
    # the harness plays Colab's CUDA builds (2.9.1+cu126); PyPI has the same versions without the local tag
    return [re.sub(r"\+cu\d+$", "", arg) for arg in call[4:]]


def pip_dry_run(python: str, args: list[str], report: Path) -> dict[str, str]:
    result = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report", str(report),
                             *args], cwd=REPO_ROOT, text=True, capture_output=True, timeout=600, check=False,
                            env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert result.returncode == 0, f"pip could not resolve {args}:\n{result.stderr[-3000:]}"
    installs = json.loads(report.read_text(encoding="utf-8"))["install"]
    return {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"] for item in installs}


def package_copy(dest: Path) -> Path:
    """What a release archive of this tree holds for pip (pip may write build files next to it)."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, dest / name)
    shutil.copytree(REPO_ROOT / "course_utils", dest / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_colab_setup_cell_keeps_colabs_torch_and_adds_no_torchcodec(tmp_path: Path) -> None:
    """pip's resolver on Python 3.12 with the set-up cell's arguments (this tree as the package)."""
    python = _python("3.12")
    args = setup_cell_pip_args(str(package_copy(tmp_path / "pinned")))
    assert args[-2:] == [f"torch=={COLAB['torch']}", f"torchvision=={COLAB['torchvision']}"], args
    with ThreadPoolExecutor(max_workers=2) as pool:
        pinned_run = pool.submit(pip_dry_run, python, args, tmp_path / "colab.json")
        unpinned_run = pool.submit(pip_dry_run, python, ["--quiet", str(package_copy(tmp_path / "unpinned"))],
                                   tmp_path / "unpinned.json")
        chosen, unpinned = pinned_run.result(), unpinned_run.result()
    assert chosen["torch"] == COLAB["torch"] and chosen["torchvision"] == COLAB["torchvision"], chosen
    assert "course-utils" in chosen and "open-clip-torch" in chosen and "torchmetrics" in chosen
    assert "torchcodec" not in chosen, f"TorchCodec {chosen['torchcodec']} would be installed next to torch 2.9"
    # Without the two pins, the same install would replace Colab's torch: the pins are what protects it.
    assert unpinned["torch"] != COLAB["torch"], "control: an unpinned install is expected to pick a newer torch"
