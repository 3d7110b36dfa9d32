#!/usr/bin/env bash
# Installs what nft-mwan's tests and demo need on a fresh Debian/Ubuntu machine (as root), then builds it.
# Run again, it skips what is done: apt only for missing packages, `npm ci` only when package-lock.json changed
# since the last install, the build only when a source changed since the last build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: run as root (namespaces, nftables and ip rules need it)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# iputils-ping, conntrack and script (bsdutils: a terminal for the colour test) are used by tests; the benchmark (npm run bench) also uses trafgen
# (netsniff-ng), iperf3, iptables (its mwan3-equivalent ruleset) and GNU time.
packages=(nftables iproute2 conntrack iputils-ping ca-certificates bsdutils netsniff-ng iperf3 iptables time keepalived conntrackd)
node_major() { node -e 'process.stdout.write(String(process.versions.node.split(".")[0]))' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 20 ]; then
  # The distribution's nodejs only if it is new enough: Debian 12 ships 18, which would be installed for nothing.
  candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9]*\).*/\1/p')
  if [ "${candidate:-0}" -ge 20 ] 2>/dev/null; then
    packages+=(nodejs npm)
  else
    echo "bootstrap: nft-mwan needs Node.js >= 20; this machine has $(node --version 2>/dev/null || echo none)" \
      "and its distribution offers ${candidate:-no} nodejs package${candidate:+ (major $candidate)}." >&2
    echo "bootstrap: install Node.js 20 or newer first, then rerun this script; nothing was installed. For example:" >&2
    echo "  - NodeSource's Debian packages: https://github.com/nodesource/distributions (nodejs 20.x or 22.x)" >&2
    echo "  - or Debian 13 (trixie) / Ubuntu 24.04, whose nodejs is 20 or newer" >&2
    exit 1
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # perf, for the data-plane benchmark's CPU-per-packet breakdown only: Debian calls it linux-perf
  # (Ubuntu: linux-tools-$(uname -r)); without it the benchmark says so and skips the breakdown.
  if ! command -v perf >/dev/null; then
    apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1 ||
      echo "bootstrap: no linux-perf package here; npm run bench will skip its CPU-per-packet breakdown" >&2
  fi
fi

if [ "$(node_major)" -lt 20 ]; then
  echo "bootstrap: nft-mwan needs Node.js >= 20, found $(node --version 2>/dev/null || echo none) after installing; install Node.js 20 or newer, then rerun." >&2
  exit 1
fi

# Stamps in node_modules/ (so `rm -rf node_modules` resets them): the lock's hash and the sources' hash.
lock_stamp=node_modules/.nft-mwan-lock.sha256
build_stamp=node_modules/.nft-mwan-build.sha256
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
sources_hash() {
  # src/generated/ is the build's own output. A folder a checkout lacks is skipped, not an error.
  local paths=() p
  for p in src schema scripts lab bin package.json package-lock.json tsconfig*.json; do if [ -e "$p" ]; then paths+=("$p"); fi; done
  find "${paths[@]}" -path src/generated -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1
}
if [ "$(cat "$lock_stamp" 2>/dev/null)" != "$lock_hash" ]; then
  # npm ci runs the prepare script: generated types + TypeScript build into dist/.
  npm ci --no-audit --no-fund
  echo "$lock_hash" >"$lock_stamp"
  sources_hash >"$build_stamp"
elif [ "$(cat "$build_stamp" 2>/dev/null)" != "$(sources_hash)" ] || [ ! -f dist/nft-mwan.cjs ]; then
  echo "bootstrap: sources changed since the last build: building" >&2
  npm run --silent prepare
  sources_hash >"$build_stamp"
else
  echo "bootstrap: packages, node_modules and build are up to date" >&2
fi
