#!/usr/bin/env bash
# Developer commands, on a fresh clone:
#   ./dev.sh test [ENV] [pytest args]   lint, conventions check, every test
#   ./dev.sh demo [ENV] [DIR]           the demo, no webui needed: a page on 127.0.0.1:7870 with a toast
#                                       per reload of a .py file in DIR (default: a copy of playground/)
#   ./dev.sh bench [ENV] [--quick ...]  the benchmark: prints the tables, writes bench/results.json
# Each runs in a virtual environment it makes first. By default .venv/: AUTOMATIC1111 1.10's pins
# (requirements-dev.txt) on Python 3.10, as A1111 uses. ENV chooses another:
#   --forge         Forge's pins (requirements-forge.txt), in .venv/forge/
#   --python X.Y    that Python instead of 3.10, in .venv/<a1111|forge>-pyX.Y/ (CI: --forge --python 3.12)
# The others live inside .venv/: whatever skips .venv (ruff, the conventions check, the stand-in's copy of
# the repository) skips them too.
set -euo pipefail
cd "$(dirname "$0")"

python_for_venv() {
    # A shim may exist and still refuse to run (pyenv), so each candidate is asked to run. With no
    # version asked for, 3.10 is preferred and any Python 3.10 or newer will do.
    local preferred=${python_version:-3.10} pyenv_python candidates candidate
    pyenv_python=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$preferred".*/bin/python 2>/dev/null | tail -n 1 || true)
    candidates="$pyenv_python python$preferred"
    [ -z "$python_version" ] && candidates="$candidates python3"
    for candidate in $candidates; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    echo "dev.sh: no Python $preferred found" >&2
    exit 1
}

ensure_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        local python
        python=$(python_for_venv)
        "$python" -m venv "$venv"
    fi
    # The included tools file counts too: a change to either one reinstalls.
    if ! cat "$requirements" requirements-tools.txt | cmp -s - "$venv/.requirements"; then
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -r "$requirements"
        cat "$requirements" requirements-tools.txt > "$venv/.requirements"
    fi
}

command=${1:-}
[ $# -gt 0 ] && shift
host=a1111
python_version=""
while [ $# -gt 0 ]; do
    case "$1" in
        --forge) host=forge; shift ;;
        --python) python_version=${2:?"--python needs a version, e.g. 3.12"}; shift 2 ;;
        *) break ;;
    esac
done
requirements=requirements-dev.txt
[ "$host" = forge ] && requirements=requirements-forge.txt
if [ -n "$python_version" ]; then
    venv=.venv/$host-py$python_version
elif [ "$host" = forge ]; then
    venv=.venv/forge
else
    venv=.venv
fi
case "$command" in
    test)
        ensure_venv
        "$venv/bin/ruff" check .
        if [ -f ../shared/tools/check_conventions.py ]; then
            "$venv/bin/python" ../shared/tools/check_conventions.py .
        fi
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    demo)
        ensure_venv
        exec "$venv/bin/python" -m hotreload_lib demo "$@"
        ;;
    bench)
        ensure_venv
        exec "$venv/bin/python" -m bench "$@"
        ;;
    *)
        sed -n '2,12p' "$0"
        exit 2
        ;;
esac
