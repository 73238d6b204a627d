#!/usr/bin/env bash
# The whole suite on two lanes at once, one test file each (see vitest.config.ts): the `servers` lane runs
# the suites that start heavy servers one after the other, the `rest` lane everything else. So at most one
# heavy server suite runs at any moment, beside at most one other file: two cores' worth. Each line is
# prefixed with its lane; the exit status is non-zero when either lane failed. Arguments (file filters)
# are passed to both lanes: `bash scripts/test-lanes.sh tests/mail` runs what matches, each in its lane.
set -uo pipefail
cd "$(dirname "$0")/.."

lane() {
  local name=$1 workers=$2
  shift 2
  (
    FTE_REST_WORKERS=$workers npx vitest run --project "$name" --passWithNoTests "$@" 2>&1 |
      sed -u "s/^/[$name] /"
    exit "${PIPESTATUS[0]}"
  ) &
}

lane servers 1 "$@"
servers=$!
lane rest 1 "$@"
rest=$!

wait "$servers"
servers_status=$?
wait "$rest"
rest_status=$?
echo "test lanes: servers exited ${servers_status}, rest exited ${rest_status}"
[ "$servers_status" -eq 0 ] && [ "$rest_status" -eq 0 ]
