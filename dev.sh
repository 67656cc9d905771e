#!/usr/bin/env bash
# Developer commands, on a fresh clone:
#   ./dev.sh test [pytest args]   lint, conventions check, every test
#   ./dev.sh demo [DIR]           the demo, no webui needed: a page on 127.0.0.1:7870 with a toast per
#                                 reload of a .py file in DIR (default: a copy of playground/)
#   ./dev.sh bench [--quick ...]  the benchmark: prints the tables, writes bench/results.json
# All make .venv/ first (Python 3.10, as AUTOMATIC1111 uses, when it is installed).
set -euo pipefail
cd "$(dirname "$0")"
venv=.venv

python_for_venv() {
    # A shim may exist and still refuse to run (pyenv), so each candidate is asked to run.
    local pyenv_310
    pyenv_310=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python 2>/dev/null | tail -n 1 || true)
    for candidate in $pyenv_310 python3.10 python3; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    echo "dev.sh: no Python 3.10 or newer found" >&2
    exit 1
}

ensure_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        "$(python_for_venv)" -m venv "$venv"
    fi
    if ! cmp -s requirements-dev.txt "$venv/.requirements-dev.txt"; then
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -r requirements-dev.txt
        cp requirements-dev.txt "$venv/.requirements-dev.txt"
    fi
}

command=${1:-}
[ $# -gt 0 ] && shift
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
        sed -n '2,7p' "$0"
        exit 2
        ;;
esac
