#!/bin/sh
# Builds redwrap's executable, dist/bin/redwrap-launch (bin/redwrap and package.json `bin` point at
# it, so that a launch starts no shell): the fast launcher when a C compiler is present, which
# hands over to the full CLI by itself when it cannot serve a launch; without a compiler, a
# script that runs the full CLI for every launch (scripts/redwrap-full-cli.sh). With a compiler,
# also dist/bin/redwrap-enter, the part of `redwrap enter` that joins a sandbox's namespaces
# (src/launcher/redwrap-enter.c); without one, `redwrap enter` says it is missing. With a
# compiler, also dist/bin/redpak-stage, which mounts a package transaction's staged view and reads
# its opaque directories (src/launcher/redpak-stage.c); without one, redwrap-dnf does both with
# util-linux unshare, sh, mount(8) and Python (src/pkg/stage-runner.ts chooses). With a compiler
# and Node's headers (node_api.h, installed with Node), also dist/bin/redpak-kernel.node, the
# flock(2) and syncfs(2) of a package transaction (src/launcher/redpak-kernel.c); without them,
# util-linux flock and coreutils sync do it (src/system/kernel-calls.ts chooses).
#
# bwrap's path is fixed here, once: `command -v bwrap` at build time (upstream's /usr/bin/bwrap
# when bwrap is not installed yet). It goes to dist/bwrap-path, the full CLI's default
# (src/system/bwrap-path.ts), and into the launcher as -DBWRAP_PATH: a plan never names a program.
set -eu
cd "$(dirname "$0")/.."
mkdir -p dist/bin
bwrap=$(command -v bwrap 2>/dev/null || true)
case "$bwrap" in
  /*) ;;
  *) bwrap=/usr/bin/bwrap ;;
esac
case "$bwrap" in
  *[!A-Za-z0-9/._+-]*) echo "build-launcher: refusing bwrap path with unusual characters: $bwrap" >&2; exit 1 ;;
esac
printf '%s\n' "$bwrap" > dist/bwrap-path.tmp
mv dist/bwrap-path.tmp dist/bwrap-path
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-launcher: no C compiler ($cc): redwrap will use the full CLI for every launch" >&2
  cp scripts/redwrap-full-cli.sh dist/bin/redwrap-launch.tmp
  chmod 755 dist/bin/redwrap-launch.tmp
  mv dist/bin/redwrap-launch.tmp dist/bin/redwrap-launch
  rm -f dist/bin/redwrap-enter dist/bin/redpak-stage dist/bin/redpak-kernel.node
  exit 0
fi
# Hardened build (test/wrap/launcher-sanitizers.test.ts builds its own copy with the sanitizers).
"$cc" -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie -Wl,-z,relro,-z,now -Wall -Wextra -Werror \
  -DBWRAP_PATH="\"$bwrap\"" -o dist/bin/redwrap-launch.tmp src/launcher/redwrap-launch.c
mv dist/bin/redwrap-launch.tmp dist/bin/redwrap-launch
"$cc" -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie -Wl,-z,relro,-z,now -Wall -Wextra -Werror \
  -o dist/bin/redwrap-enter.tmp src/launcher/redwrap-enter.c
mv dist/bin/redwrap-enter.tmp dist/bin/redwrap-enter
"$cc" -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie -Wl,-z,relro,-z,now -Wall -Wextra -Werror \
  -o dist/bin/redpak-stage.tmp src/launcher/redpak-stage.c
mv dist/bin/redpak-stage.tmp dist/bin/redpak-stage
# Node-API headers: Node's own installation has them in include/node next to bin/node.
node_bin=$(command -v node)
node_include=$(dirname "$(dirname "$(readlink -f "$node_bin")")")/include/node
if [ -f "$node_include/node_api.h" ]; then
  "$cc" -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC -shared -Wl,-z,relro,-z,now -Wall -Wextra -Werror \
    -I"$node_include" -o dist/bin/redpak-kernel.node.tmp src/launcher/redpak-kernel.c
  mv dist/bin/redpak-kernel.node.tmp dist/bin/redpak-kernel.node
else
  echo "build-launcher: no Node-API headers in $node_include: transactions will run flock(1) and sync(1)" >&2
  rm -f dist/bin/redpak-kernel.node
fi
