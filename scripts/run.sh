#!/usr/bin/env bash
# The main job on the embedded default (SQLite file ./gridmgr.db, shipped layers, results in ./out/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh --run
python -m pip install -q -e '.[all]' 2>&1 | grep -v "Running pip as the 'root' user" || true
exec gridmgr run --out out "$@"
