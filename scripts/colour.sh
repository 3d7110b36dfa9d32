# Sourced by the quick-start scripts: colour codes only for a terminal. Vitest's colours (tinyrainbow) are on whenever
# TERM is not "dumb", even with the output going to a file or a pipe; NO_COLOR turns them off (and nft-mwan's own).
if [ ! -t 1 ] && [ -z "${FORCE_COLOR:-}" ]; then
  export NO_COLOR=1
fi
