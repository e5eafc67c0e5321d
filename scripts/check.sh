#!/usr/bin/env bash
# Static checks, run by scripts/test.sh before the tests (and so by .ci/run): ruff lint, ruff
# format, mypy strict on gridmgr/ and api/, and the docstring examples as doctests.
# Exits non-zero on the first check with a finding. Needs the dev extras (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
PATHS=(gridmgr api tests benchmarks)
echo "== ruff check"; ruff check "${PATHS[@]}"
echo "== ruff format --check"; ruff format --check "${PATHS[@]}"
echo "== mypy --strict gridmgr api"; mypy
echo "== doctests"
# migrations/env.py runs Alembic when imported: it has no examples and is left out
python -m pytest --doctest-modules gridmgr api --ignore=gridmgr/store/migrations -q
echo "== sizes (docs/architecture.md)"; python scripts/sizes.py
