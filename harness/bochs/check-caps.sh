#!/bin/sh
# CTest hw.bochs.caps: boot the caps ISO in Bochs for both profiles and check
# that the capability MSRs and CPUID leaves equal tests/data/bochs-vmx-msrs-*.txt
# (comment lines aside).
#   check-caps.sh CAPS_ISO WORKDIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
iso=$1 work=$2
mkdir -p "$work"
"$here/capture-caps.sh" "$iso" "$work" "$work" > "$work/capture.out" 2>&1 || { cat "$work/capture.out"; exit 1; }
status=0
for profile in penryn skylake; do
    grep -v '^#' "$root/tests/data/bochs-vmx-msrs-$profile.txt" > "$work/expected-$profile.txt"
    grep -v '^#' "$work/bochs-vmx-msrs-$profile.txt" > "$work/actual-$profile.txt"
    if diff -u "$work/expected-$profile.txt" "$work/actual-$profile.txt"; then
        echo "check-caps: $profile matches tests/data/bochs-vmx-msrs-$profile.txt"
    else
        status=1
    fi
done
exit $status
