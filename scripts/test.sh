#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it.
#
# Starts a throwaway Neo4j 5.26 from the Maven Central jars (neo4j/neo4j.sh: fetched once into
# ~/.cache/lineage), points the tests at it with NEO4J_URI and the random password neo4j.sh
# wrote into its home (mode 600), and requires it
# (LINEAGE_REQUIRE_NEO4J=1: a Neo4j test that cannot reach its server fails, never skips),
# then stops it, whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

# Ports of our own, so a developer's Neo4j on 7687/7474 is never touched.
export LINEAGE_NEO4J_BOLT_PORT=${LINEAGE_TEST_BOLT_PORT:-17687}
export LINEAGE_NEO4J_HTTP_PORT=${LINEAGE_TEST_HTTP_PORT:-17474}

# The import contracts first: a broken layer fails in seconds, before the server starts.
scripts/lint_imports.sh || { echo "test.sh: the import contracts are broken" >&2; exit 1; }

neo4j/neo4j.sh fetch || { echo "test.sh: could not fetch the Neo4j jars" >&2; exit 1; }
neo4j/neo4j.sh stop --ephemeral >/dev/null 2>&1 || true  # a leftover from an interrupted run
trap 'neo4j/neo4j.sh stop --ephemeral >/dev/null 2>&1 || true' EXIT
neo4j/neo4j.sh start --ephemeral --wait || { echo "test.sh: Neo4j did not start" >&2; exit 1; }

export NEO4J_URI="bolt://127.0.0.1:$LINEAGE_NEO4J_BOLT_PORT"
export LINEAGE_REQUIRE_NEO4J=1
unset NEO4J_USER NEO4J_DATABASE
# Read in this shell, never put on a command line.
NEO4J_PASSWORD=$(<"$(neo4j/neo4j.sh home --ephemeral)/password") || { echo "test.sh: no password file of the throwaway Neo4j" >&2; exit 1; }
export NEO4J_PASSWORD

"$BIN/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  # pytest's 5 means it collected no test at all: a broken suite, never a pass.
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
