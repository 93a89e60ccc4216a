#!/usr/bin/env bash
# Runs lanes of make targets side by side (more lanes than cores: a lane often waits, on a rollout or one module at
# a time, and the others use the core), each on a test environment of its own (its own
# emulator, PostgreSQL servers, stand-ins and state: TEST_OFFSET shifts every port, TEST_STATE is its directory),
# so that two suites never share a deployment. Each lane is tools/timed_targets.sh: its targets in order, stopping
# at its first failure. Every line a lane prints is prefixed with the lane's name, so the log stays readable; at the
# end, each lane's table of wall times and the total. Exits non-zero if any lane failed (the other lanes still end,
# so one run shows every failure).
#   usage: tools/test_lanes.sh <label> "<lane> <offset> <target>..." ...
set -uo pipefail

label=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d /tmp/medzen-lanes.XXXXXX)
trap 'rm -rf "$work"' EXIT
start_all=$(date +%s)
declare -a lanes=() pids=()

for spec in "$@"; do
    read -r lane offset targets <<<"$spec"
    lanes+=("$lane")
    state=$root/.local-test
    [[ $offset == 100 ]] || state=$root/.local-test-$lane
    echo "=== lane $lane: port offset $offset, state ${state#"$root"/}: $targets ==="
    (
        # shellcheck disable=SC2086  # the targets are words
        TEST_OFFSET=$offset TEST_STATE=$state TIMED_SUMMARY=$work/$lane.table \
            bash "$here/timed_targets.sh" "$label/$lane" $targets 2>&1 | sed -u "s/^/[$lane] /"
        echo "${PIPESTATUS[0]}" > "$work/$lane.rc"
    ) &
    pids+=($!)
done

status=0
for pid in "${pids[@]}"; do
    wait "$pid"
done
total=$(( $(date +%s) - start_all ))
echo
for lane in "${lanes[@]}"; do
    rc=$(cat "$work/$lane.rc" 2>/dev/null || echo 1)
    echo "--- lane $lane (exit $rc) ---"
    cat "$work/$lane.table" 2>/dev/null || echo "(no table: the lane ended before its first target)"
    [[ $rc == 0 ]] || status=$rc
done
how="in one lane"
(( ${#lanes[@]} == 1 )) || how="for ${#lanes[@]} lanes side by side"
printf '=== make %s: %ss (%dm) %s: %s ===\n' "$label" "$total" $(( total / 60 )) "$how" \
    "$([[ $status -eq 0 ]] && echo ok || echo FAILED)"
exit "$status"
