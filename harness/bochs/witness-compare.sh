#!/bin/sh
# Compare the hypervisor's trace of a Bochs run with Bochs's own record of
# the VM exits (run-bochs.sh --witness): the same exits, in the same order,
# with the same basic reason and exit qualification.
#   witness-compare.sh TRACE(com2.txt) WITNESS(witness.txt) [CPUS]
# Trace lines:   exit <n> [v<vcpu>] <REASON_NAME> [async] qual=0x<q> ...
# Witness lines: <icount>d[CPU<c>  ] VMEXIT reason = <n> (<name>) qualification=0x<q>
# CPUS (default 1): the physical CPUs the hypervisor ran vcpus on, vcpu v
# on CPU v % CPUS (core/scheduler.hpp). The two records interleave the CPUs
# differently, so each CPU's exits are compared in their own order.
# Reason names map to numbers through enum ExitReason in
# src/arch/x86/vmx/vmx_arch.hpp. Exit status 0 when they agree; otherwise the
# first difference is printed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
arch=$here/../../src/arch/x86/vmx/vmx_arch.hpp
trace=$1 witness=$2 cpus=${3:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name -> number, from the ExitReason enum only.
awk '/^enum class ExitReason/ {on=1; next} on && /^};/ {exit}
     on { gsub(/[,]/, ""); if ($2 == "=") print $1, $3 }' "$arch" > "$tmp/names"
# "<cpu> <reason> <qualification>", then grouped by CPU keeping each one's order.
awk -v cpus="$cpus" 'NR == FNR { num[$1] = $2; next }
     $1 == "exit" {
         vcpu = ($3 ~ /^v[0-9]+$/) ? substr($3, 2) + 0 : 0
         r = ($3 ~ /^v[0-9]+$/) ? $4 : $3
         q = "?"; for (i = 3; i <= NF; ++i) if ($i ~ /^qual=/) q = substr($i, 6)
         n = (r in num) ? num[r] : r
         print vcpu % cpus, n, q
     }' "$tmp/names" "$trace" | sort -s -n -k1,1 > "$tmp/trace"
sed -n 's/.*\[CPU\([0-9]*\) *\] VMEXIT reason = \([0-9]*\) (.*) qualification=\(0x[0-9a-fA-F]*\).*/\1 \2 \3/p' "$witness" |
    awk '{ printf "%d %d %s\n", $1, $2 % 65536, tolower($3) }' | sort -s -n -k1,1 > "$tmp/witness"
if diff "$tmp/trace" "$tmp/witness" > "$tmp/diff"; then
    echo "witness-compare: $(wc -l < "$tmp/trace") exits agree (reason, qualification)"
    exit 0
fi
echo "witness-compare: the trace ($(wc -l < "$tmp/trace") exits) and Bochs ($(wc -l < "$tmp/witness") exits) differ:"
head -n 20 "$tmp/diff"
exit 1
