#!/usr/bin/env bash
# Installs what nft-mwan's tests and demo need on a fresh Debian/Ubuntu machine (as root), then builds it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: run as root (namespaces, nftables and ip rules need it): sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# iputils-ping, conntrack and script (bsdutils: a terminal for the colour test) are used by tests; the benchmark (npm run bench) also uses trafgen
# (netsniff-ng), iperf3, iptables (its mwan3-equivalent ruleset) and GNU time.
packages=(nftables iproute2 conntrack iputils-ping ca-certificates bsdutils netsniff-ng iperf3 iptables time keepalived conntrackd)
node_major() { node -e 'process.stdout.write(String(process.versions.node.split(".")[0]))' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then packages+=(nodejs npm); fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# perf, for the data-plane benchmark's CPU-per-packet breakdown only: Debian calls it linux-perf
# (Ubuntu: linux-tools-$(uname -r)); without it the benchmark says so and skips the breakdown.
if ! command -v perf >/dev/null; then
  apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1 ||
    echo "bootstrap: no linux-perf package here; npm run bench will skip its CPU-per-packet breakdown" >&2
fi

if [ "$(node_major)" -lt 20 ]; then
  echo "bootstrap: nft-mwan needs Node.js >= 20, this distribution ships $(node --version 2>/dev/null || echo none)." >&2
  echo "bootstrap: install Node.js 20 or newer (e.g. Debian 13 / Ubuntu 24.04 packages, or NodeSource), then rerun." >&2
  exit 1
fi

# npm ci runs the prepare script: generated types + TypeScript build into dist/.
npm ci --no-audit --no-fund
