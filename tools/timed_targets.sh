#!/usr/bin/env bash
# Runs make targets one after another and ends with one line per target and its wall time, so whoever reads a
# `make test` (or CI) log sees where the time went. Stops at the first failing target, like make would, and still
# prints the table (the failed target marked, the ones not run listed).
#   usage: tools/timed_targets.sh <label> <target>...   (MAKE is taken from the environment, default make)
# With TIMED_SUMMARY=<file> the table is also written there (tools/test_lanes.sh gathers the lanes' tables).
set -uo pipefail

make_cmd=${MAKE:-make}
label=$1
shift
declare -a names=() results=() seconds=()
status=0
start_all=$(date +%s)

for target in "$@"; do
    names+=("$target")
    if [[ $status -ne 0 ]]; then
        results+=("not run")
        seconds+=("-")
        continue
    fi
    echo "=== make $target ($(date +%H:%M:%S)) ==="
    start=$(date +%s)
    "$make_cmd" --no-print-directory "$target"
    rc=$?
    took=$(( $(date +%s) - start ))
    seconds+=("$took")
    if [[ $rc -eq 0 ]]; then
        results+=("ok")
    else
        results+=("FAILED (exit $rc)")
        status=$rc
    fi
done

total=$(( $(date +%s) - start_all ))
table() {
    echo "=== make $label: wall time per target ==="
    for i in "${!names[@]}"; do
        if [[ ${seconds[$i]} == "-" ]]; then
            printf '%-20s %8s   %s\n' "${names[$i]}" "-" "${results[$i]}"
        else
            printf '%-20s %6ss %3dm   %s\n' "${names[$i]}" "${seconds[$i]}" $(( seconds[i] / 60 )) "${results[$i]}"
        fi
    done
    printf '%-20s %6ss %3dm   %s\n' "total" "$total" $(( total / 60 )) "$([[ $status -eq 0 ]] && echo ok || echo FAILED)"
}
echo
table
[[ -n ${TIMED_SUMMARY:-} ]] && table > "$TIMED_SUMMARY"
exit $status
