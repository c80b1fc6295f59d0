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
# A one-node Redis Cluster (every slot on one master) for the cluster client's lifecycle: its port and its
# cluster bus port (+10000) must both be free.
cport=$(node -e 'const net=require("net");const free=(p)=>new Promise((r)=>{const s=net.createServer().once("error",()=>r(false)).listen(p,"127.0.0.1",()=>s.close(()=>r(true)))});(async()=>{for(;;){const p=20000+Math.floor(Math.random()*30000);if(await free(p)&&await free(p+10000)){console.log(p);return}}})()')
mkdir -p "$dir/cluster"
redis-server --port "$cport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/cluster" --cluster-enabled yes \
  --cluster-config-file nodes.conf --daemonize no --loglevel warning >"$dir/cluster.log" 2>&1 &
cpid=$!
# A Sentinel watching the first Redis as "mymaster", for the lifecycle through Sentinel (same binary).
sport=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
printf 'port %s\nbind 127.0.0.1\ndaemonize no\ndir %s\nsentinel monitor mymaster 127.0.0.1 %s 1\n' "$sport" "$dir" "$port" >"$dir/sentinel.conf"
redis-server "$dir/sentinel.conf" --sentinel >"$dir/sentinel.log" 2>&1 &
spid=$!
trap 'kill $rpid $cpid $spid 2>/dev/null; wait $rpid $cpid $spid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 1 100); do redis-cli -p "$sport" ping >/dev/null 2>&1 && break; sleep 0.05; done
for _ in $(seq 1 100); do redis-cli -p "$cport" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$cport" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
for _ in $(seq 1 200); do redis-cli -p "$cport" CLUSTER INFO | grep -q cluster_state:ok && break; sleep 0.05; done
url="redis://127.0.0.1:$port"
curl="redis://127.0.0.1:$cport"
surl="redis+sentinel://127.0.0.1:$sport/mymaster"
status=0
# script:url:arguments
# tls-loop.js starts its own TLS redis-server (the url argument is ignored).
for script in client-loop.js:url:6 adapter-loop.js:url:2 worker-terminate.js:url: sharded-loop.js:url:3 \
  ../../emitter/scripts/emit-and-exit.js:url: cluster-worker.js:curl: sharded-loop.js:curl:"2 cluster" sentinel-loop.js:surl:4 \
  tls-loop.js:url:4 streams-loop.js:url:2 streams-loop.js:curl:"1 cluster"; do
  name=${script%%:*}; rest=${script#*:}; which=${rest%%:*}; arg=${rest#*:}
  target=$url; [ "$which" = curl ] && target=$curl; [ "$which" = surl ] && target=$surl
  echo "valgrind: $name $arg"
  # shellcheck disable=SC2086
  if ! HIREDIS_ADAPTER_BUILD=Debug timeout 600 valgrind --quiet --leak-check=full --show-leak-kinds=definite \
      --errors-for-leak-kinds=definite --error-exitcode=99 --suppressions=scripts/valgrind.supp \
      node --expose-gc "test/lifecycle/scripts/$name" "$target" $arg; then
    echo "valgrind: $name FAILED" >&2
    status=1
  fi
done
npx node-gyp configure >/dev/null
npx node-gyp build >/dev/null
exit $status
