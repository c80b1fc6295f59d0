#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/), replays the committed regressions and seeds, then fuzzes each
# target for FUZZ_SECONDS (default 30) starting from the committed corpus. Exits non-zero on any crash, leak,
# sanitizer report or timeout; the input that caused it is left in .fuzz/artifacts/<target>/ (commit it under
# test/fuzz/regressions/<target>/ with the fix). Needs clang and libclang-rt (scripts/setup.sh installs them);
# fuzz_tls also needs libssl-dev (.ci/run installs it).
#   FUZZ_SECONDS=300 FUZZ_TARGETS="resp adapter" bash scripts/fuzz.sh
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
targets=${FUZZ_TARGETS:-"resp envelope encoder json adapter sharded sentinel tls primus streams"}
command -v clang >/dev/null || { echo "clang not found: run scripts/setup.sh (installs clang and libclang-rt-14-dev)" >&2; exit 1; }
make -s -f test/fuzz/Makefile all || exit 1
make -s -f test/fuzz/Makefile regress || exit 1
status=0
for t in $targets; do
  work=.fuzz/corpus/$t
  art=.fuzz/artifacts/$t/
  mkdir -p "$work" "$art"
  case $t in
    resp) maxlen=65536 ;;
    adapter | tls) maxlen=16384 ;;
    *) maxlen=8192 ;;
  esac
  log=.fuzz/$t.log
  ./build/fuzz/fuzz_$t "$work" test/fuzz/corpus/$t -max_total_time="$seconds" -max_len=$maxlen -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$art" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t: FAILED after ${runs:-?} runs (exit $rc); input in $art"
    grep -E 'ERROR|runtime error|SUMMARY' "$log" | head -5
    status=1
  else
    echo "fuzz_$t: ${runs:-?} runs in ${seconds}s, ${cov:-no coverage line}, no finding"
  fi
done
exit $status
