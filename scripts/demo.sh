#!/usr/bin/env bash
# Quick start: bootstrap a fresh Debian/Ubuntu machine, then run the demo lab (everything inside namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/colour.sh
bash scripts/bootstrap.sh
node dist/scripts/demo.js
