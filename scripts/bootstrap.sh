#!/usr/bin/env bash
# Make .venv ready: create it when missing, and (re)install omo with its dev tools whenever
# pyproject.toml changed since the last install. Safe to run again and again; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

VENV=.venv
STAMP="$VENV/.omo-installed"

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "omo needs Python 3.11 or newer; install it or point PYTHON at one (PYTHON=/usr/bin/python3.11)." >&2
    return 1
}

venv_works() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

if ! venv_works; then
    python=$(find_python)
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        # Debian ships venv support as a separate package.
        apt_install "python$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
    fi
    echo "Creating $VENV with $python ..."
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
fi

wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x "$VENV/bin/omo" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
    echo "Installing omo and its dependencies into $VENV (the first time takes a few minutes) ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
    echo "$wanted" >"$STAMP"
fi
