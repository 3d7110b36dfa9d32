#!/usr/bin/env bash
# Quick start: bootstrap a fresh Debian/Ubuntu machine and run every test (unit and namespace integration).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/colour.sh
bash scripts/bootstrap.sh
npm test
