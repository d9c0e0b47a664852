#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

"$BIN/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  # pytest's 5 means it collected no test at all: a broken suite, never a pass.
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
