"""`pip install .`: the wheel pip builds from the repository holds the library and nothing else, and
the standalone watcher runs from it outside the clone. Built once, offline (the environment's own
setuptools, no build isolation), from a copy of the repository, so no build/ is left behind."""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from hotreload_lib.watching.supervise import WATCHDOG_FIX
from tests.conftest import write

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "hotreload_lib"
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache",
                                     ".hypothesis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "repo"
    shutil.copytree(REPO_ROOT, source, ignore=COPY_IGNORE)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--quiet", "--wheel-dir", str(out), str(source)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked: what `pip install` puts into site-packages."""
    site = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_installed(site: Path, *arguments: str) -> subprocess.Popen[str]:
    """`python -m hotreload_lib ...` with the installed package only: from a folder outside the clone."""
    elsewhere = site.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", PACKAGE, *arguments], cwd=elsewhere,
                            env={**os.environ, "PYTHONPATH": str(site)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_wheel_holds_the_library_and_its_data_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    library = {name for name in names if not name.split("/")[0].endswith(".dist-info")}
    expected = {path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / PACKAGE).rglob("*")
                if path.suffix in (".py", ".js") and "__pycache__" not in path.parts}
    assert library == expected
    assert f"{PACKAGE}/demo_script.js" in library


def test_one_watchdog_range_everywhere(wheel: Path) -> None:
    """install.py (what the webui installs), the package metadata and the hint for a missing watchdog
    say the same range, and every test environment's watchdog lies in it."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA")))
    (requires,) = [Requirement(line.split(":", 1)[1]) for line in metadata.decode().splitlines()
                   if line.startswith("Requires-Dist:")]
    assert requires.name == "watchdog"
    install_py = ast.parse((REPO_ROOT / "install.py").read_text(encoding="utf-8"))
    (quoted,) = [node.value.value for node in install_py.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and "watchdog" in str(node.value.value)]
    assert Requirement(quoted.strip('"')).specifier == requires.specifier
    (hinted,) = re.findall(r'"(watchdog[^"]*)"', WATCHDOG_FIX)
    assert Requirement(hinted).specifier == requires.specifier
    for requirements in sorted(REPO_ROOT.glob("requirements-*.txt")):
        for line in requirements.read_text(encoding="utf-8").splitlines():
            if line.startswith("watchdog"):
                (pinned,) = Requirement(line).specifier
                assert pinned.version in requires.specifier, f"{requirements.name}: {line}"


def test_the_installed_watcher_runs_outside_the_clone(installed: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    process = run_installed(installed, "watch", str(live))
    try:
        assert process.stderr is not None and process.stdout is not None
        assert "watching" in process.stderr.readline()
        write(live / "standalone.py", "x = 1\n")
        event = json.loads(process.stdout.readline())
        assert (event["file"], event["outcome"]) == ("standalone.py", "ok")
    finally:
        process.terminate()
        process.wait(10)


def test_the_installed_demo_says_it_needs_the_clone(installed: Path, tmp_path: Path) -> None:
    process = run_installed(installed, "demo", str(tmp_path))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "javascript/hot_reload.js, style.css" in stderr and "run it from a clone, ./dev.sh demo" in stderr
