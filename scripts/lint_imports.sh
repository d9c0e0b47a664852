#!/usr/bin/env bash
# The import contracts of pyproject.toml ([tool.importlinter]), checked with import-linter.
#
# In the repository loaders/ and queries/ sit beside lineage/ and are mapped into it
# (lineage.loaders, lineage.queries), which the import graph cannot see; so the package is
# installed as a wheel would install it, into a temporary folder, and checked there.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${VENV:-.venv}/bin" && pwd)
here=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/python" -m pip install --quiet --no-deps --target "$tmp/site" . 2>"$tmp/pip.log" \
  || { cat "$tmp/pip.log" >&2; echo "lint_imports.sh: could not install the package to check it" >&2; exit 1; }
rm -rf build ./*.egg-info  # what the wheel build leaves in the checkout
cd "$tmp"
PYTHONPATH="$tmp/site" "$BIN/lint-imports" --no-cache "$here/pyproject.toml"
