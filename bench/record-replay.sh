#!/usr/bin/env bash
# The record/replay benchmark: for each workload, the wall time of a plain
# `xeno run`, of `xeno record` of the same run and of `xeno replay` of the
# recording (the best of ROUNDS runs each, the three kinds alternating so a
# slow spell of a shared machine hits them alike), and prints
#   record_overhead    record over run (the goal is at most 1.1)
#   replay_vs_record   replay over record
#   recording_bytes    the recording's size, and bytes per exit
# Workloads: scenarios/xen-abi on skylake and penryn, and Debian's kernel
# booted PVH (build/linux, ci/fetch-linux.sh) when it is there.
#
#   bench/record-replay.sh [-r ROUNDS] [-x XENO]
#
# -r  rounds per kind (default 3)
# -x  the xeno binary (default build/sim/xeno)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
xeno="$here/build/sim/xeno"
rounds=3
while getopts "r:x:h" opt; do
    case $opt in
    r) rounds=$OPTARG ;;
    x) xeno=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
    esac
done
[ -x "$xeno" ] || { echo "bench/record-replay.sh: $xeno not found: cmake --build --preset sim" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seconds of wall time `"$@"` takes; its output goes to $work/out. A
# command that fails ends the benchmark (a figure of a failed run means nothing).
seconds() {
    local begin end
    begin=$(date +%s.%N)
    if ! "$@" >"$work/out" 2>&1; then
        echo "bench/record-replay.sh: failed: $*" >&2
        tail -5 "$work/out" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    echo "$end - $begin" | bc -l
}

min() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }

bench() {
    local name=$1
    shift
    local run="" record="" replay="" rec="$work/$name.rec"
    for ((i = 0; i < rounds; i++)); do
        run=$(min "$run" "$(seconds "$xeno" run "$@")")
        record=$(min "$record" "$(seconds "$xeno" record "$rec" -- "$@")")
        replay=$(min "$replay" "$(seconds "$xeno" replay "$rec")")
        grep -q "^replay: identical" "$work/out" || { echo "bench/record-replay.sh: $name did not replay identical" >&2; cat "$work/out" >&2; exit 1; }
    done
    local exits bytes
    exits=$(sed -n 's/^replay: identical (\([0-9]*\) exits.*/\1/p' "$work/out")
    bytes=$(stat -c %s "$rec")
    printf '%-22s run_s %7.3f  record_s %7.3f  replay_s %7.3f  record_overhead %5.3f  replay_vs_record %5.3f  recording_bytes %9d  bytes_per_exit %6.1f\n' \
        "$name" "$run" "$record" "$replay" "$(echo "$record / $run" | bc -l)" "$(echo "$replay / $record" | bc -l)" \
        "$bytes" "$(echo "$bytes / $exits" | bc -l)"
}

cd "$here"
bench xen-abi.skylake scenarios/xen-abi --profile skylake
bench xen-abi.penryn scenarios/xen-abi --profile penryn
if [ -f build/linux/vmlinuz ] && [ -f build/linux/initramfs.cpio ]; then
    bench linux-pvh.skylake --kernel build/linux/vmlinuz --initrd build/linux/initramfs.cpio \
        --append console=hvc0 -m 256 --pvh
else
    echo "linux-pvh.skylake      not measured: build/linux has no kernel (ci/fetch-linux.sh)"
fi
