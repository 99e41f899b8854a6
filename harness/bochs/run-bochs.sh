#!/bin/sh
# Boot an ISO of the hw build in Bochs, headless, with a time limit.
#
#   run-bochs.sh [--witness] ISO PROFILE OUTDIR [TIMEOUT_SECONDS]
#
# --witness: Bochs's own record of VMX transitions. Turns on debug-level log
# messages of the CPU module (bochsrc: debug: action=ignore, cpu0=report) and
# keeps, through a FIFO, only the VMX lines of them in OUTDIR/witness.txt:
#   <icount>d[CPU0  ] VMEXIT reason = 10 (CPUID) qualification=0x0
#   <icount>d[CPU0  ] VMLAUNCH VMCS ptr: 0x..., VMRESUME ..., VMENTER to ...
#   <icount>e[CPU0  ] VMFAIL: ... (why a VMLAUNCH/VMRESUME failed)
# (unfiltered, the CPU's debug messages are ~13 MB for a 3-second boot,
# mostly RDTSC lines from GRUB). bochs.log keeps the non-debug lines.
#
# PROFILE: penryn -> core2_penryn_t9600, skylake -> corei7_skylake_x.
# Leaves in OUTDIR: bochsrc, debugger.rc, com1.txt (GRUB, then LOG and
# GUEST_CONSOLE), com2.txt (TRACE lines: the kernel writes them to the debug
# port 0xe9, port_e9_hack, which Bochs copies to its stdout; com2-uart.txt is
# COM2 itself, empty unless the kernel finds no debug port), bochs.log,
# bochs.out (Bochs's stdout/stderr: debugger chatter). Exit status: 0 when the kernel printed
# "xeno: exit status 0", 1 for another exit status, 2 for a timeout or a run
# without a final status line (Bochs crash, panic, triple fault), 3 for a
# usage or setup error. Prints one line: the status line or what went wrong.
#
# Determinism: clock sync=none with a fixed time0 and ips, so every run of
# the same ISO executes the same instructions.
# Environment: XENO_BOCHS_MEGS (machine memory, default 128: the hypervisor's
# frame-allocator set-up costs ~50 Bochs instructions per 4 KiB frame),
# XENO_BOCHS_IPS (emulated instructions per emulated second, default 10000000:
# the TSC runs at this rate in Bochs; lower values make BIOS waits cheaper)
# and XENO_BOCHS_CPUS (processors, default 1; Bochs runs them in turns of 16
# instructions, so a run stays deterministic). With several, the witness
# has every processor's VMX lines, each tagged with its [CPU<n>].
set -u

usage() { echo "usage: $0 [--witness] ISO penryn|skylake OUTDIR [TIMEOUT_SECONDS]" >&2; exit 3; }
witness=0
if [ "${1:-}" = --witness ]; then witness=1; shift; fi
[ $# -ge 3 ] || usage
iso=$1 profile=$2 out=$3 limit=${4:-120}

case $profile in
    penryn) model=core2_penryn_t9600 ;;
    skylake) model=corei7_skylake_x ;;
    *) usage ;;
esac
command -v bochs >/dev/null 2>&1 || { echo "run-bochs: bochs is not installed" >&2; exit 3; }
[ -f "$iso" ] || { echo "run-bochs: no such ISO: $iso" >&2; exit 3; }
bios=/usr/share/bochs/BIOS-bochs-latest
vgabios=/usr/share/vgabios/vgabios.bin
for f in $bios $vgabios; do
    [ -f $f ] || { echo "run-bochs: missing $f (packages bochsbios, vgabios)" >&2; exit 3; }
done

mkdir -p "$out" || exit 3
out=$(cd "$out" && pwd)
cpus=${XENO_BOCHS_CPUS:-1}
case $cpus in
    [1-8]) ;;
    *) echo "run-bochs: XENO_BOCHS_CPUS must be 1..8" >&2; exit 3 ;;
esac
iso=$(cd "$(dirname "$iso")" && pwd)/$(basename "$iso")
rm -f "$out/com1.txt" "$out/com2.txt" "$out/com2-uart.txt" "$out/stdout.txt" "$out/bochs.log" "$out/bochs.out" "$out/witness.txt" "$out/log.fifo"
debug_line="debug: action=ignore"
log_file=$out/bochs.log
filter_pid=
if [ $witness = 1 ]; then
    debug_line="debug: action=ignore"
    i=0
    while [ $i -lt "$cpus" ]; do debug_line="$debug_line, cpu$i=report"; i=$((i + 1)); done
    log_file=$out/log.fifo
    mkfifo "$log_file" || exit 3
    # One reader splits the stream: VMX lines to witness.txt, non-debug lines to bochs.log.
    awk -v w="$out/witness.txt" -v l="$out/bochs.log" '
        /VMEXIT|VMENTER|VMLAUNCH|VMRESUME|VMFAIL|VMABORT/ { print > w }
        !/^[0-9]+d\[/ { print > l }' < "$log_file" &
    filter_pid=$!
fi

# Debian's Bochs has no 'nogui' display: rfb with timeout=0 does not wait for
# a client. It is built with the internal debugger: the rc file continues
# at the reset vector and quits if the debugger is entered again.
cat > "$out/bochsrc" <<RC
megs: ${XENO_BOCHS_MEGS:-128}
romimage: file=$bios, options=fastboot
vgaromimage: file=$vgabios
display_library: rfb, options="timeout=0"
cpu: model=$model, count=$cpus, ips=${XENO_BOCHS_IPS:-10000000}, reset_on_triple_fault=0, ignore_bad_msrs=0
pci: enabled=1, chipset=i440fx
ata0-master: type=cdrom, path=$iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$out/com1.txt
com2: enabled=1, mode=file, dev=$out/com2-uart.txt
port_e9_hack: enabled=1
clock: sync=none, time0=946684800
log: $log_file
panic: action=fatal
error: action=report
info: action=report
$debug_line
speaker: enabled=0
mouse: enabled=0
RC
printf 'c\nquit\n' > "$out/debugger.rc"

start=$(date +%s.%N)
timeout --kill-after=5 "$limit" bochs -q -f "$out/bochsrc" -rc "$out/debugger.rc" \
    < /dev/null > "$out/stdout.txt" 2> "$out/bochs.out"
rc=$?
# The trace: the kernel writes it to the debug port 0xe9, which Bochs copies
# to its standard output among the debugger's few lines (kept in bochs.out).
grep -ao 'exit [0-9][0-9]* .*' "$out/stdout.txt" > "$out/com2.txt"
grep -av 'exit [0-9][0-9]* ' "$out/stdout.txt" >> "$out/bochs.out"
if [ -n "$filter_pid" ]; then wait "$filter_pid"; rm -f "$log_file"; fi
end=$(date +%s.%N)
elapsed=$(echo "$end - $start" | bc)
echo "$elapsed" > "$out/wall-seconds"

status_line=$(grep -a '^xeno: exit status ' "$out/com1.txt" 2>/dev/null | tail -n 1)
if [ -n "$status_line" ]; then
    echo "$status_line (bochs $profile, ${elapsed}s)"
    case $status_line in
        "xeno: exit status 0") exit 0 ;;
        *) exit 1 ;;
    esac
fi
why=$(grep -a -A1 'Bochs is exiting with the following message' "$out/bochs.out" 2>/dev/null | tail -n 1)
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "run-bochs: timeout after ${limit}s without 'xeno: exit status' (see $out/com1.txt, $out/bochs.log)"
else
    echo "run-bochs: bochs ended (status $rc${why:+: $why}) without 'xeno: exit status' (see $out/com1.txt, $out/bochs.log)"
fi
exit 2
