#!/usr/bin/env bash
# CI stage: the TypeScript declarations (lib/index.d.ts). Compiles test/types/ (upstream's README examples
# and this package's API, strict, module nodenext, importing the package by name through its exports map)
# with tsc; then compiles it again with every `@ts-expect-error` directive removed and requires exactly one
# error on each line that followed a directive, so none of them passes for an unrelated reason.
set -euo pipefail

cd "$(dirname "$0")/.."
tsc=(node node_modules/typescript/bin/tsc)

"${tsc[@]}" -p test/types/tsconfig.json
echo "[test-types] test/types compiles (tsc $("${tsc[@]}" -v | awk '{print $2}'), strict, module nodenext)"

tmp="test/types/.strip"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp"
expected=""
for f in test/types/*.mts test/types/*.cts; do
  base="$(basename "$f")"
  sed 's|// @ts-expect-error.*|// (directive removed)|' "$f" >"$tmp/$base"
  expected+="$(grep -n '// @ts-expect-error' "$f" | cut -d: -f1 | while read -r n; do echo "$base:$((n + 1))"; done)"$'\n'
done
sed 's|"\.\./\.\./lib/|"../../../lib/|' test/types/tsconfig.json >"$tmp/tsconfig.json"
set +e
out="$("${tsc[@]}" -p "$tmp/tsconfig.json" 2>&1)"
set -e
got="$(sed -n 's|^.*\.strip/\([^(]*\)(\([0-9]*\),.*error TS.*|\1:\2|p' <<<"$out" | sort -u)"
expected="$(sed '/^$/d' <<<"$expected" | sort -u)"
n="$(wc -l <<<"$expected")"
if [ "$got" != "$expected" ]; then
  echo "[test-types] FAIL: without the directives, the errors are not exactly on the $n expected lines"
  diff <(echo "$expected") <(echo "$got") || true
  echo "$out"
  exit 1
fi
echo "[test-types] each of the $n @ts-expect-error lines is an error on its own"
