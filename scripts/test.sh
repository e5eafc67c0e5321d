#!/usr/bin/env bash
# The whole test suite: installs what is missing (Debian: PostGIS, CJK font, Chromium, poppler;
# PyPI: the package with its dev extras), makes sure PostgreSQL runs, runs the static checks
# (scripts/check.sh: ruff, mypy strict, doctests), then the whole suite with pytest.
# Exits non-zero when a test fails or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
python -m pip install -q -e '.[dev]' 2>&1 | grep -v "Running pip as the 'root' user" || true
export GRIDMGR_TEST_PG_URL="${GRIDMGR_TEST_PG_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/postgres}"
bash scripts/check.sh
exec python -m pytest -n 2 --dist loadgroup "$@"
