#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UBSan (build/Debug) and runs the whole mocha suite under it,
# with leak detection on. Then restores the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_loglevel=error
libasan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "libasan not found (gcc -print-file-name=libasan.so): install gcc's sanitizer runtime" >&2
  exit 1
fi
npx node-gyp configure --debug -- -Dasan=1 >/dev/null
npx node-gyp build --debug >/dev/null
status=0
LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86:allocator_may_return_null=1" \
  LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  HIREDIS_ADAPTER_BUILD=Debug \
  node --expose-gc node_modules/mocha/bin/mocha.js "$@" || status=$?
# Leave a release build behind for whoever runs next.
npx node-gyp configure >/dev/null
npx node-gyp build >/dev/null
exit $status
