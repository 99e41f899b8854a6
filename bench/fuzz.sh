#!/usr/bin/env bash
# The fuzz benchmark: runs each libFuzzer target of the fuzz build (preset
# `fuzz`, build/fuzz/fuzz/) for a number of executions, starting from its
# committed corpus (fuzz/corpus/<target>/, copied: the corpus in the tree is
# not changed), and prints per target: executions, execs/s, coverage
# (libFuzzer's cov: edges and ft: features) and crashes.
#
#   bench/fuzz.sh [-n EXECUTIONS] [-j PARALLEL] [-t MAX_SECONDS] [TARGET...]
#
# -n  executions per target (default 10000000)
# -j  targets run at once (default 2)
# -t  stop a target after this many seconds even if it has not reached -n
#     (default: no limit); the table then shows the count it reached
# TARGET: fuzz-emulator fuzz-entry-checks fuzz-scenario fuzz-loaders fuzz-hypercall
#         fuzz-gdb-packets (default: all)
#
# Logs, the grown corpora and any crash inputs go to build/fuzz/bench/.
# Exit status 1 when a target crashed (its input is in build/fuzz/bench/).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/fuzz/fuzz"
out="$here/build/fuzz/bench"

runs=10000000
jobs=2
max_seconds=0
while getopts "n:j:t:h" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    t) max_seconds=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-emulator fuzz-entry-checks fuzz-scenario fuzz-loaders fuzz-hypercall fuzz-gdb-packets)

for t in "${targets[@]}"; do
    if [ ! -x "$bin/$t" ]; then
        echo "bench/fuzz.sh: $bin/$t not found: cmake --preset fuzz && cmake --build --preset fuzz" >&2
        exit 2
    fi
done
mkdir -p "$out"

run_one() {
    local t=$1 dict=()
    rm -rf "${out:?}/$t" "$out/$t".crash-*
    mkdir -p "$out/$t"
    cp "$here/fuzz/corpus/$t/"* "$out/$t/"
    [ -f "$here/fuzz/$t.dict" ] && dict=(-dict="$here/fuzz/$t.dict")
    local limit=()
    [ "$max_seconds" -gt 0 ] && limit=(-max_total_time="$max_seconds")
    # -timeout: one input running longer than 10 s is a hang (a crash).
    nice -n 10 "$bin/$t" -runs="$runs" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/$t.crash-" "${dict[@]}" "$out/$t" >"$out/$t.log" 2>&1 || true
}

# At most $jobs targets at a time.
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

status=0
printf '%-18s %12s %10s %8s %8s %8s %s\n' target executions execs/s cov ft crashes time
for t in "${targets[@]}"; do
    log="$out/$t.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+[[:space:]].*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$last")
    crashes=$(find "$out" -maxdepth 1 -name "$t.crash-*" | wc -l)
    seconds=$(awk -v e="${execs:-0}" -v r="${rate:-0}" 'BEGIN { if (r > 0) printf "%.0fs", e / r; else print "-" }')
    printf '%-18s %12s %10s %8s %8s %8s %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "$crashes" "$seconds"
    if [ "$crashes" -gt 0 ] || grep -q -E '^==[0-9]+==ERROR|^SUMMARY: |deadly signal' "$log"; then
        echo "  $t: crashed, see $log" >&2
        status=1
    fi
done
exit $status
