#!/usr/bin/env bash
# Runs the lifecycle scripts under valgrind memcheck against a debug build of the addon (no ASan).
# A definite leak or any memory error fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_loglevel=error
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
npx node-gyp configure --debug >/dev/null
npx node-gyp build --debug >/dev/null
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
dir=$(mktemp -d)
# Its log goes to a file: lines printed while it shuts down must not land after CI's tally line.
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no --loglevel warning >"$dir/redis.log" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port"
status=0
for script in client-loop.js:6 adapter-loop.js:2 worker-terminate.js: ../../emitter/scripts/emit-and-exit.js:; do
  name=${script%%:*}; arg=${script#*:}
  echo "valgrind: $name"
  if ! HIREDIS_ADAPTER_BUILD=Debug timeout 600 valgrind --quiet --leak-check=full --show-leak-kinds=definite \
      --errors-for-leak-kinds=definite --error-exitcode=99 --suppressions=scripts/valgrind.supp \
      node --expose-gc "test/lifecycle/scripts/$name" "$url" $arg; then
    echo "valgrind: $name FAILED" >&2
    status=1
  fi
done
npx node-gyp configure >/dev/null
npx node-gyp build >/dev/null
exit $status
