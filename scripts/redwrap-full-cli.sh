#!/bin/sh
# redwrap without the fast launcher (built where no C compiler was found): the full CLI serves
# every launch. Installed as dist/bin/redwrap-launch by scripts/build-launcher.sh.
# Node reads NODE_EXTRA_CA_CERTS at start-up, eagerly: it is handed over under another name and
# put back once Node runs (see bin/redmanager).
self=$0
[ -L "$self" ] && self=$(readlink -f "$self")
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  REDPAK_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS
  export REDPAK_EXTRA_CA_CERTS
  unset NODE_EXTRA_CA_CERTS
fi
exec node "${self%/*}/../src/cli/start.cjs" redwrap "$@"
