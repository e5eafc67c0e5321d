#!/usr/bin/env bash
# Installs the Debian packages gridmgr's tests need, only when missing, and makes sure the
# local PostgreSQL cluster is running with PostGIS available.
#   - postgresql-15-postgis-3 : PostGIS for the production-store tests
#   - fonts-noto-cjk          : CJK font for Chinese labels on static maps
#   - chromium                : headless browser for the map/web page tests
#   - poppler-utils           : pdftoppm, renders exported PDFs in tests
#   - wrk                     : HTTP load generator of benchmarks/bench_api.py (--bench only)
set -euo pipefail

# Usage: system-deps.sh [--run|--bench]   (--run: only what the main job needs, i.e. the CJK font;
# --bench: what the tests need and the benchmarks' load generator)
mode="${1:-test}"
need=()
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)
fc-list : family 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || need+=(fonts-noto-cjk)
if [ "$mode" != "--run" ]; then
  [ -e /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
fi
if [ "$mode" = "--bench" ]; then
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "gridmgr: installing Debian packages: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

[ "$mode" = "--run" ] && exit 0

# Start PostgreSQL when it is down (the machine ships a cluster; trust auth on 127.0.0.1:5432).
if command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    ver=$(ls /etc/postgresql | sort -n | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
