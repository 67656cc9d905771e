"""Stand-in for the webui's launch.py as install.py sees it (HOST_CONTRACT.md §2).

run_pip builds the command line the way the host does and runs it through a shell, but with
`echo` in place of pip, so a test sees exactly the arguments pip would get. is_installed answers
from STANDIN_INSTALLED (comma-separated) when set.
"""
import importlib.util
import os
import subprocess
import sys


def is_installed(package):
    forced = os.environ.get("STANDIN_INSTALLED")
    if forced is not None:
        return package in forced.split(",")
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:
        return False


def run_pip(command, desc=None):
    if "--skip-install" in sys.argv or os.environ.get("STANDIN_SKIP_INSTALL"):
        return ""
    line = f'"{sys.executable}" -c "import sys; print(sys.argv[1:])" {command} --prefer-binary'
    result = subprocess.run(line, shell=True, capture_output=True, text=True)
    with open(os.environ["STANDIN_PIP_LOG"], "a", encoding="utf-8") as log:
        log.write(result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"Couldn't install {desc}: {result.stderr}")
    return result.stdout
