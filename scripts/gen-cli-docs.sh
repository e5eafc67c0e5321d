#!/usr/bin/env bash
# Regenerates docs/cli.md from the CLI itself (a test checks that the committed file is current).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m typer gridmgr.cli utils docs --name gridmgr --title "gridmgr CLI reference (命令参考)" --output docs/cli.md
