#!/usr/bin/env bash
# Fetches Debian 13's nftables (1.1.x) into a cache beside the system's nft, without touching the system, and prints the
# directory holding an `nft` wrapper that runs it through its own loader (put that directory first in PATH).
#
# Nothing is installed: apt-get runs with a sources list, package lists, caches and a dpkg status of its own under the
# cache, the packages are unpacked with dpkg-deb -x, and the wrapper runs the unpacked ld.so with --library-path.
# The mirror is the one this machine's apt already uses for Debian (its proxy settings in /etc/apt apply as usual),
# with the suite swapped for NFT_NEXT_SUITE.
#
# A second run downloads and unpacks nothing: the unpacked tree is stamped with the package versions it came from,
# and the package lists are refreshed only when older than NFT_NEXT_MAX_AGE_HOURS (when the refresh fails, an
# existing tree is kept with a warning).
#
# Environment: NFT_NEXT_CACHE (default: <repo>/.cache/nft-next), NFT_NEXT_SUITE (default: trixie),
# NFT_NEXT_MAX_AGE_HOURS (default: 24; 0 refreshes every time).
# Output: the bin directory on stdout; progress on stderr. Needs x86_64 (amd64).
# The bin directory also holds `node` (a copy of this machine's node set by patchelf to run on the unpacked loader and
# libraries, so that its process can load the newer libnftables, which needs the newer libc: GLIBC_2.38) and
# libnftables.so.1, a link to the unpacked library, which NFT_MWAN_LIBNFTABLES names in CI's nft-next pass (vitest.config.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${NFT_NEXT_CACHE:-$PWD/.cache/nft-next}"
suite="${NFT_NEXT_SUITE:-trixie}"
max_age_hours="${NFT_NEXT_MAX_AGE_HOURS:-24}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# nft and everything it loads, down to the C library: the trixie builds need trixie's libc (newer symbol versions).
packages=(nftables libnftables1 libnftnl11 libxtables12 libc6 libjansson4 libgmp10 libmnl0 libedit2 libbsd0 libmd0 libtinfo6)

say() { echo "nft-next: $*" >&2; }
die() { say "$*"; exit 1; }

# The wrapper names the x86_64 loader and library directory; other machines would need their own triplet and ld.so.
machine="$(uname -m)"
[ "$machine" = x86_64 ] || die "only x86_64 is supported (this machine is $machine): the wrapper runs ld-linux-x86-64.so.2"
[ "$(dpkg --print-architecture)" = amd64 ] || die "dpkg's architecture is $(dpkg --print-architecture), not amd64"
triplet=x86_64-linux-gnu
for tool in apt-get apt-cache dpkg-deb; do command -v "$tool" >/dev/null || die "$tool is missing (a Debian or Ubuntu machine is needed)"; done
[ -r "$keyring" ] || die "$keyring is missing (package debian-archive-keyring): cannot check the $suite archive's signature"

# The mirror this machine's apt uses for Debian's main archive (not -security), as apt itself resolved it from
# /etc/apt/sources.list and sources.list.d in either format.
mirror="$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 'Origin: Debian' 'Label: Debian' | sort -u | head -n 1)"
[ -n "$mirror" ] || die "no Debian mirror in this machine's apt sources (apt-get indextargets lists none with Origin and Label Debian)"

case "$cache" in *"'"*) die "NFT_NEXT_CACHE must not contain a single quote (the wrapper quotes its paths): $cache" ;; esac
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/state" "$apt_dir/etc/preferences.d" "$cache/debs"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$apt_dir/sources.list"
: >"$apt_dir/state/status"
apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
  -o Dir::Etc::sourceparts=-
  -o "Dir::Etc::preferences=$apt_dir/etc/preferences"
  -o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d"
  -o "Dir::State=$apt_dir/state"
  -o "Dir::State::lists=$apt_dir/lists"
  -o "Dir::State::status=$apt_dir/state/status"
  -o "Dir::Cache=$apt_dir/cache"
  -o Dir::Cache::pkgcache=pkgcache.bin
  -o Dir::Cache::srcpkgcache=srcpkgcache.bin
  -o APT::Architectures::=amd64
  -o Acquire::Languages=none
)

root="$cache/root"
stamp="$cache/stamp"
bin="$cache/bin"

# Refresh the lists when there are none or they are older than allowed.
lists_fresh() {
  local newest
  newest="$(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mmin "-$((max_age_hours * 60))" -print -quit 2>/dev/null)"
  [ -n "$newest" ]
}
if [ "$max_age_hours" -gt 0 ] && lists_fresh; then
  say "package lists of $suite are less than ${max_age_hours}h old: not refreshed"
else
  say "apt-get update: $suite from $mirror"
  if ! apt-get "${apt_opts[@]}" -qq update >&2; then
    if [ -f "$stamp" ] && [ -x "$bin/nft" ]; then
      say "warning: could not refresh the $suite package lists; keeping the tree from $(tr '\n' ' ' <"$stamp")"
      echo "$bin"
      exit 0
    fi
    die "apt-get update of $suite from $mirror failed"
  fi
fi

# The key: every package with the version the lists offer (one apt-cache call: each one reads the whole list).
key="$(apt-cache "${apt_opts[@]}" show --no-all-versions "${packages[@]}" 2>/dev/null |
  awk '/^Package: /{p=$2} /^Version: /{print p "=" $2}' | sort)"
for p in "${packages[@]}"; do
  grep -q "^$p=" <<<"$key" || die "package $p is not in $suite's lists"
done

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ -x "$root/usr/sbin/nft" ] && [ -x "$bin/nft" ]; then
  say "cached: $(sed -n 's/^nftables=//p' "$stamp") in $root (download and unpack skipped)"
else
  say "downloading ${#packages[@]} packages from $suite"
  rm -f "$cache/debs/"*.deb
  # apt fetches as _apt where that user exists: let it write here (else it warns and fetches unsandboxed).
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$cache/debs"; fi
  # apt-get download writes into the current directory and checks each file against the signed lists' hashes.
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download $key) >&2 ||
    die "apt-get download from $suite failed"
  rm -rf "$root.tmp"
  mkdir -p "$root.tmp"
  for deb in "$cache/debs/"*.deb; do dpkg-deb -x "$deb" "$root.tmp"; done
  rm -rf "$root"
  mv "$root.tmp" "$root"
  rm -f "$cache/debs/"*.deb
  printf '%s\n' "$key" >"$stamp"
  say "unpacked into $root"
fi

# The loader and library directories as the packages laid them out (trixie: merged /usr; older layouts: /lib).
loader=""
for l in "$root/usr/lib/$triplet/ld-linux-x86-64.so.2" "$root/lib/$triplet/ld-linux-x86-64.so.2" "$root/usr/lib64/ld-linux-x86-64.so.2"; do
  if [ -e "$l" ]; then loader="$l"; break; fi
done
[ -n "$loader" ] || die "no ld-linux-x86-64.so.2 in $root"
libdirs=""
for d in "$root/usr/lib/$triplet" "$root/lib/$triplet"; do
  if [ -d "$d" ]; then libdirs="${libdirs:+$libdirs:}$d"; fi
done

mkdir -p "$bin"
cat >"$bin/nft.tmp" <<EOF
#!/bin/sh
# Debian $suite's nft ($(sed -n 's/^nftables=//p' "$stamp")) through its own loader and libraries; written by scripts/nft-next.sh.
# exec: the process that talks to the kernel keeps this script's pid (nft-mwan tells its own commits by pid).
exec '$loader' --argv0 nft --library-path '$libdirs' '$root/usr/sbin/nft' "\$@"
EOF
chmod 755 "$bin/nft.tmp"
mv "$bin/nft.tmp" "$bin/nft"

version="$("$bin/nft" --version 2>&1)" || die "the wrapper does not run: $version"
say "$bin/nft: $version"

# nft-mwan runs libnftables in its own process: that process (node) must run on the newer libc the library needs.
# A copy of this machine's node whose ELF interpreter is the unpacked loader and whose DT_RPATH (searched for every
# library the process loads, dlopen'ed ones too) names the unpacked libraries first, then the system's (libstdc++).
# A copy, not a script running the loader: node's process.execPath is then the copy itself, so the processes
# nft-mwan starts from it (apply --try's watchdog) run the same way.
command -v patchelf >/dev/null || die "patchelf is missing (apt-get install patchelf)"
real_node="$(PATH="$(printf %s "$PATH" | tr ':' '\n' | grep -vxF "$bin" | paste -sd:)" command -v node)" || die "node is not in PATH"
cp "$real_node" "$bin/node.tmp"
patchelf --set-interpreter "$loader" --force-rpath --set-rpath "$libdirs:/usr/lib/$triplet:/lib/$triplet" "$bin/node.tmp"
chmod 755 "$bin/node.tmp"
mv "$bin/node.tmp" "$bin/node"
ln -sfn "$root/usr/lib/$triplet/libnftables.so.1" "$bin/libnftables.so.1"
"$bin/node" -e 0 || die "node does not run through the $suite loader"
echo "$bin"
