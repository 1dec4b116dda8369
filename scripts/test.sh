#!/usr/bin/env bash
# The whole test suite with node's built-in runner (compiled tests in dist/test).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(dist/test/*.test.js)
if [ ${#files[@]} -eq 0 ]; then echo "no tests found in dist/test" >&2; exit 1; fi
exec node --test --test-concurrency=1 "${files[@]}" "$@"
