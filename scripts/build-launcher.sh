#!/bin/sh
# Builds the fast redwrap launcher (dist/bin/redwrap-launch) when a C compiler is present.
# Without it redwrap still works, through the full CLI only.
set -eu
cd "$(dirname "$0")/.."
mkdir -p dist/bin
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-launcher: no C compiler ($cc): redwrap will use the full CLI for every launch" >&2
  rm -f dist/bin/redwrap-launch
  exit 0
fi
"$cc" -O2 -Wall -Wextra -Werror -o dist/bin/redwrap-launch.tmp src/launcher/redwrap-launch.c
mv dist/bin/redwrap-launch.tmp dist/bin/redwrap-launch
