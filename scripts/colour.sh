# Sourced by the quick-start scripts: colour codes only for a terminal. Vitest colours through tinyrainbow, which
# takes any TERM but "dumb" for a terminal, even with the output going to a file or a pipe; FORCE_TTY=false makes it
# look. Not NO_COLOR: it would reach the tests too, and one checks that nft-mwan colours a (pseudo-)terminal.
if [ ! -t 1 ] && [ -z "${FORCE_COLOR:-}" ]; then
  export FORCE_TTY=false
fi
