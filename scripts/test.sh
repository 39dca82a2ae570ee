#!/usr/bin/env bash
# The whole test suite, two processes in parallel. Extra arguments go to pytest.
# DATABASE_URL, REDIS_URL and the other settings pass through, so the same command tests
# the embedded setup (SQLite, the default) and the scale-out one (PostgreSQL + Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bash scripts/bootstrap.sh

# The browser tests drive Debian's Chromium through Playwright (or the one OMO_CHROMIUM_PATH names).
if [ -z "${OMO_CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi

# The benchmarks measure their ceilings with wrk; their tiny runs in the suite use it when it is
# there and fall back to a Python load generator otherwise, so a failed install is not fatal.
if ! command -v wrk >/dev/null; then
    apt_install wrk || echo "wrk could not be installed: the benchmarks' tiny runs use the Python load generator."
fi

if [ "${OMO_REQUIRE_BROWSER:-0}" = "1" ]; then
    # Browser tests must run, not skip: fail now, with a clear reason, if Chromium cannot start.
    .venv/bin/python - <<'PY'
import os

from playwright.sync_api import sync_playwright

chromium = os.environ.get("OMO_CHROMIUM_PATH") or "/usr/bin/chromium"
with sync_playwright() as playwright:
    playwright.chromium.launch(executable_path=chromium).close()
print(f"{chromium} starts: the browser tests will run.")
PY
fi

exec .venv/bin/pytest -p xdist -n "${OMO_TEST_PROCESSES:-2}" -ra "$@"
