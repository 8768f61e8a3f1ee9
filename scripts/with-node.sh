#!/bin/sh
# Runs a command with Node.js >= 22 first on PATH. When the machine's node is
# older (or missing), installs the npm package node@24 (a real Node binary)
# into .tools/node once and uses that. POSIX sh, so it runs before any modern
# Node exists.
#
#   scripts/with-node.sh npm test
#   scripts/with-node.sh vitest run
#
# It also installs the locked dependencies (npm ci) when none are installed,
# so every npm script works on a fresh clone as the first command. (--deps is
# still accepted: it was the opt-in for that before it became the default.)
set -eu

install_deps=true
if [ "${1:-}" = "--deps" ]; then
  shift
fi
# Installing is what these commands do themselves.
case "${1:-} ${2:-}" in
  "npm ci" | "npm install" | "npm i") install_deps=false ;;
esac

root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
local_bin="$root/.tools/node/node_modules/.bin"

node_major() {
  "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0
}

if [ -x "$local_bin/node" ] && [ "$(node_major "$local_bin/node")" -ge 22 ]; then
  PATH="$local_bin:$PATH"
elif command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]; then
  :
else
  command -v npm >/dev/null 2>&1 || { echo "with-node: npm is needed to install Node 24" >&2; exit 1; }
  echo "with-node: Node >= 22 not found; installing node@24 into .tools/node" >&2
  mkdir -p "$root/.tools/node"
  [ -f "$root/.tools/node/package.json" ] || echo '{"private":true}' > "$root/.tools/node/package.json"
  # The package's preinstall fetches the platform binary package from the registry.
  npm install --prefix "$root/.tools/node" --no-audit --no-fund --loglevel=error node@24 >&2
  PATH="$local_bin:$PATH"
  if [ "$(node_major node)" -lt 22 ]; then
    echo "with-node: installed node@24 but $(command -v node) reports $(node --version 2>&1)" >&2
    exit 1
  fi
fi
export PATH
if $install_deps && [ ! -f "$root/node_modules/.package-lock.json" ]; then
  echo "with-node: no dependencies installed yet; running npm ci" >&2
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi
exec "$@"
