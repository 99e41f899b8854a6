#!/bin/sh
# Capture the VMX capability MSRs and CPUID leaves of Bochs's CPU models, as
# the hw build's boot code logs them ("hw-caps:" lines, src/hal/hw/caps.cpp),
# into tests/data/bochs-vmx-msrs-<profile>.txt for the sim CPU profiles.
#
#   capture-caps.sh CAPS_ISO [OUTDIR [RUNDIR]]
#
# CAPS_ISO is build/hw/iso/caps.iso (CMake target iso-caps). OUTDIR defaults
# to tests/data of this tree; Bochs's own files go to RUNDIR/bochs-caps-*
# (default build/hw).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
iso=$1
out=${2:-$root/tests/data}
rundir=${3:-$root/build/hw}
version=$(dpkg-query -W -f '${Version}' bochs 2>/dev/null || echo unknown)
mkdir -p "$out"
for profile in penryn skylake; do
    case $profile in
        penryn) model=core2_penryn_t9600 ;;
        skylake) model=corei7_skylake_x ;;
    esac
    run=$rundir/bochs-caps-$profile
    "$here/run-bochs.sh" "$iso" $profile "$run" 120 || true
    if ! grep -q '^hw-caps: 0x480 ' "$run/com1.txt"; then
        echo "capture-caps: no capability lines from Bochs ($profile); see $run" >&2
        exit 1
    fi
    file=$out/bochs-vmx-msrs-$profile.txt
    {
        echo "# VMX capability MSRs and CPUID leaves of Bochs CPU model $model."
        echo "# Produced by harness/bochs/capture-caps.sh: the hw build (src/hal/hw/caps.cpp)"
        echo "# booted by GRUB in Debian's bochs $version (cpu: model=$model,"
        echo "# ignore_bad_msrs=0; BIOS: bochsbios BIOS-bochs-latest) on $(date -u +%Y-%m-%d)."
        echo "# Lines: '0x<msr> 0x<value>' as RDMSR returned it (0x3a IA32_FEATURE_CONTROL as the BIOS"
        echo "# left it; 0x48b/0x48c/0x48d-0x490/0x491 only where the CPU reports them, SDM Vol. 3D A.1-A.11),"
        echo "# 'cpuid 0x<leaf> 0x<subleaf> 0x<eax> 0x<ebx> 0x<ecx> 0x<edx>' for leaves 0, 1, 7, 0x80000000-0x80000008."
        grep -a '^hw-caps: cpuid ' "$run/com1.txt" | sed 's/^hw-caps: //'
        grep -a '^hw-caps: 0x' "$run/com1.txt" | sed 's/^hw-caps: //'
    } > "$file"
    echo "capture-caps: wrote $file"
done
