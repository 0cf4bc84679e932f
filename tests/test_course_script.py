"""``./course``: arguments checked before any work, help, per-clone state kept out of the environment."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.course import REPO_ROOT

COURSE = REPO_ROOT / "course"


def run_course(*args: str, env_home: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COURSE_ENV_HOME": str(env_home), "PYTHON": sys.executable, **(extra_env or {})}
    return subprocess.run(["bash", str(COURSE), *args], cwd=REPO_ROOT, env=env, text=True, capture_output=True,
                           timeout=60, check=False)


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_course("help", env_home=tmp_path / "envs")
    assert result.returncode == 0
    for command in ("lab", "test ", "test ARGS", "test-oldest", "mutate [PATTERN]", "env", "clean", "help"):
        assert command in result.stdout, command
    assert not (tmp_path / "envs").exists(), "help must not create anything"


@pytest.mark.parametrize(("args", "message"), [
    (("foo",), "unknown command 'foo'"),
    ((), "usage: ./course COMMAND"),
    (("env", "extra"), "./course env: takes no arguments (got: extra)"),
    (("clean", "--all"), "./course clean: takes no arguments (got: --all)"),
    (("mutate", "a", "b"), "./course mutate: takes at most one pattern (got: a b)"),
])
def test_bad_arguments_fail_at_once_without_work(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    start = time.monotonic()
    result = run_course(*args, env_home=tmp_path / "envs")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert time.monotonic() - start < 5 and not (tmp_path / "envs").exists()


def test_an_unsupported_python_is_refused_with_the_range(tmp_path: Path) -> None:
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\n"
                    "if [ \"$1\" = -c ]; then case \"$2\" in *version_ok*|*'lo <= v'*) exit 1;; esac;"
                    " echo 3.9.18; fi\n")
    fake.chmod(0o755)
    result = run_course("env", env_home=tmp_path / "envs", extra_env={"PYTHON": str(fake)})
    assert result.returncode == 2
    assert "requirements-lock.txt needs Python >= 3.11.5 and < 3.14" in result.stderr and "is 3.9.18" in result.stderr


def test_clean_keeps_only_the_current_environments(tmp_path: Path) -> None:
    home = tmp_path / "envs"
    # the current environment's name, computed as ./course does (`env` would build it)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    key = hashlib.sha256((REPO_ROOT / "requirements-lock.txt").read_bytes()).hexdigest()[:16]
    keep = home / f"requirements-lock-py{version}-{key}"
    stale = [home / "requirements-lock-py3.11-0123456789abcdef", home / "venv-py311-deadbeefdeadbeef"]
    for folder in (keep, *stale):
        (folder / "bin").mkdir(parents=True)
    result = run_course("clean", env_home=home)
    assert result.returncode == 0, result.stderr
    assert keep.exists() and not any(folder.exists() for folder in stale)
    assert f"keeping {keep}" in result.stderr and "removing" in result.stderr


@pytest.mark.maintainer_stack  # ./course builds this environment; the oldest one is built the same way
def test_the_environment_holds_nothing_of_this_clone() -> None:
    """Two clones share one environment: no editable install, no .pth or direct_url pointing at a clone."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    mentions = []
    for path in [*site.glob("*.pth"), *site.glob("*.dist-info/direct_url.json"), *site.glob("__editable__*")]:
        if str(REPO_ROOT) in path.read_text(encoding="utf-8", errors="replace") or path.name.startswith("__editable__"):
            mentions.append(path.name)
    assert not mentions, f"the environment refers to this clone: {mentions}"
    assert not list(site.glob("course_utils*")), "course_utils must come from PYTHONPATH, not be installed"
