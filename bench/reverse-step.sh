#!/usr/bin/env bash
# The reverse-execution benchmark: Debian's gdb attached to a run after
# 100 M guest instructions, one `reverse-stepi`. Prints, in one run:
#   restore_s             wall time of `xeno run --restore` to the point
#                         (re-executing the 100 M-instruction prefix, checking it)
#   reverse_step_ms       wall time of the reverse-stepi command alone, as gdb
#                         measures it (python time.monotonic() around it),
#                         with the GDB stub's fork checkpoints (the default)
#   reverse_step_nockpt_ms  the same without checkpoints
#                         (XENO_GDB_CHECKPOINT_INTERVAL=0: it re-executes the run)
#   checkpoints           checkpoint processes alive after the reverse-stepi
#   checkpoint_memory_mb  their memory: the sum of Private_Clean + Private_Dirty
#                         (/proc/PID/smaps_rollup), what only they hold; and
#                         checkpoint_pss_mb, their proportional set size, and
#                         checkpoint_rss_mb, their resident size (shared pages
#                         counted in full)
# The guest: bench/reverse-step (40 rounds of 4 M instructions, a console
# byte after each), snapshot (xeno run --snapshot-at) at the first exit at or
# after 100 ms of virtual time (1 ns a guest instruction: 100 M instructions),
# restored with --gdb: GDB finds the machine stopped there (README.md:
# Snapshots). gdb steps 3 instructions, then reverse-steps once.
#
#   bench/reverse-step.sh [-x XENO] [-p PROFILE]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
xeno="$here/build/sim/xeno"
profile=skylake
while getopts "x:p:h" opt; do
    case $opt in
    x) xeno=$OPTARG ;;
    p) profile=$OPTARG ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
    esac
done
[ -x "$xeno" ] || { echo "bench/reverse-step.sh: $xeno not found: cmake --build --preset sim" >&2; exit 2; }
command -v gdb >/dev/null || { echo "bench/reverse-step.sh: gdb not installed (ci/install-deps.sh)" >&2; exit 2; }
work=$(mktemp -d)
xeno_pid=
cleanup() {
    [ -n "$xeno_pid" ] && kill "$xeno_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$xeno" run "$here/bench/reverse-step" --profile "$profile" --snapshot-at 100ms "$work/point.snap" >"$work/snap.out"
grep "^snapshot: " "$work/snap.out" >&2
insns=$(sed -n 's/^snapshot: .*, \([0-9]*\) guest instructions).*/\1/p' "$work/snap.out")
[ "$insns" -ge 100000000 ] || { echo "bench/reverse-step.sh: the point is at $insns instructions" >&2; exit 1; }

# The descendants of a process, itself first.
tree() {
    local pid=$1
    echo "$pid"
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree "$child"; done
}

# One session: $1 = the checkpoint interval ("" for the default); prints
# "<restore_s> <reverse_step_ms> <checkpoints> <private_kb> <pss_kb>".
session() {
    local interval=$1 port begin restored
    rm -f "$work/xeno.err" "$work/measure"
    begin=$(date +%s.%N)
    if [ -n "$interval" ]; then
        XENO_GDB_CHECKPOINT_INTERVAL=$interval "$xeno" run --restore "$work/point.snap" --gdb 127.0.0.1:0 \
            >"$work/xeno.out" 2>"$work/xeno.err" &
    else
        "$xeno" run --restore "$work/point.snap" --gdb 127.0.0.1:0 >"$work/xeno.out" 2>"$work/xeno.err" &
    fi
    xeno_pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^gdb: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/xeno.err")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "bench/reverse-step.sh: xeno did not listen" >&2; cat "$work/xeno.err" >&2; exit 1; }
    # GDB is let in at the point: xeno says when it is there.
    while ! grep -q "live from here" "$work/xeno.err"; do
        kill -0 "$xeno_pid" 2>/dev/null || { cat "$work/xeno.err" >&2; exit 1; }
        sleep 0.05
    done
    restored=$(echo "$(date +%s.%N) - $begin" | bc -l)
    cat >"$work/measure.sh" <<MEASURE
#!/usr/bin/env bash
# Run by gdb while the machine is stopped after the reverse-stepi: every
# process of the chain but the live one (the last) is a checkpoint.
$(declare -f tree)
pids=\$(tree $xeno_pid)
live=\$(echo "\$pids" | tail -1)
n=0 private=0 pss=0 rss=0
for pid in \$pids; do
    [ "\$pid" = "\$live" ] && continue
    n=\$((n + 1))
    private=\$((private + \$(awk '/^Private_(Clean|Dirty):/ { s += \$2 } END { print s + 0 }' /proc/\$pid/smaps_rollup)))
    pss=\$((pss + \$(awk '/^Pss:/ { print \$2 }' /proc/\$pid/smaps_rollup)))
    rss=\$((rss + \$(awk '/^Rss:/ { print \$2 }' /proc/\$pid/smaps_rollup)))
done
echo "\$n \$private \$pss \$rss" >"$work/measure"
MEASURE
    cat >"$work/session.gdb" <<GDB
set pagination off
set confirm off
target remote 127.0.0.1:$port
python import time
monitor insns
stepi
stepi
stepi
python t0 = time.monotonic()
reverse-stepi
python print("reverse_step_ms %.1f" % ((time.monotonic() - t0) * 1000))
shell bash $work/measure.sh
info registers rip
kill
GDB
    timeout 600 gdb -batch -nx -x "$work/session.gdb" >"$work/gdb.out" 2>&1 || true
    wait "$xeno_pid" 2>/dev/null || true
    xeno_pid=
    local ms
    ms=$(sed -n 's/^reverse_step_ms //p' "$work/gdb.out")
    if [ -z "$ms" ] || [ ! -s "$work/measure" ]; then
        echo "bench/reverse-step.sh: the gdb session failed" >&2
        cat "$work/gdb.out" "$work/xeno.err" >&2
        exit 1
    fi
    grep -q "machine state verified" "$work/xeno.err" || { cat "$work/xeno.err" >&2; exit 1; }
    echo "$restored $ms $(cat "$work/measure")"
}

read -r restore_s ms n private pss rss <<<"$(session "")"
read -r _ ms_none _ _ _ _ <<<"$(session 0)"
printf 'reverse-step.%s  instructions %d  restore_s %.2f  reverse_step_ms %.1f  reverse_step_nockpt_ms %.1f  checkpoints %d  checkpoint_memory_mb %.1f  checkpoint_pss_mb %.1f  checkpoint_rss_mb %.1f\n' \
    "$profile" "$insns" "$restore_s" "$ms" "$ms_none" "$n" "$(echo "$private / 1024" | bc -l)" "$(echo "$pss / 1024" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)"
