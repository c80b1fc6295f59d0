#!/usr/bin/env bash
# Installs what socket.io-hiredis-adapter needs to build and test, then runs `npm install`
# (which compiles the native addon with node-gyp). Debian/Ubuntu only; elsewhere it prints
# the commands to run and exits non-zero. Idempotent and non-interactive.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

# The Debian package names we need, with the command or file that proves each is present.
need_pkgs=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pc() { have_cmd pkg-config && pkg-config --exists "$1" 2>/dev/null; }

if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
fi
os_like=" ${ID:-} ${ID_LIKE:-} "

if ! have_cmd apt-get || ! [[ "$os_like" == *" debian "* || "$os_like" == *" ubuntu "* ]]; then
  cat >&2 <<'MSG'
[setup] This script installs dependencies on Debian/Ubuntu only. On other systems install:
  macOS (Homebrew):  brew install hiredis msgpack redis pkg-config   (plus Xcode command line tools, Node >= 18)
  Alpine:            apk add build-base python3 pkgconf hiredis-dev msgpack-c-dev redis nodejs npm
  Fedora/RHEL:       dnf install gcc make python3 pkgconf-pkg-config hiredis-devel msgpack-devel redis nodejs npm
then run:  npm install
MSG
  exit 1
fi

have_cmd gcc && have_cmd make || need_pkgs+=(build-essential)
have_cmd python3 || need_pkgs+=(python3)
have_cmd pkg-config || need_pkgs+=(pkg-config)
{ have_pc hiredis || [ -e /usr/include/hiredis/hiredis.h ]; } || need_pkgs+=(libhiredis-dev)
{ have_pc msgpack-c || have_pc msgpack || [ -e /usr/include/msgpack.h ]; } || need_pkgs+=(libmsgpack-dev)
have_cmd redis-server || need_pkgs+=(redis-server)
have_cmd node || need_pkgs+=(nodejs npm)
{ have_cmd node && ! have_cmd npm; } && need_pkgs+=(npm)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if have_cmd sudo; then SUDO="sudo"; else
      echo "[setup] need root (or sudo) to install: ${need_pkgs[*]}" >&2
      exit 1
    fi
  fi
  log "installing: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
else
  log "system packages present"
fi

# The Debian redis-server package starts a service on 6379; the tests start their own servers
# on free ports and do not need it.

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  echo "[setup] Node $(node --version) is too old: need Node >= 18 (e.g. from https://deb.nodesource.com)" >&2
  exit 1
fi

log "npm install (builds the native addon)"
if [ -n "${CI:-}" ] && [ -f package-lock.json ] && [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

if [ -f build/Release/hiredis_adapter.node ]; then
  log "ok: build/Release/hiredis_adapter.node"
else
  echo "[setup] npm install finished but build/Release/hiredis_adapter.node is missing" >&2
  exit 1
fi
