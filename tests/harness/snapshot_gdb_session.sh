#!/bin/sh
# GDB attached to `xeno run --restore` (CTest harness.snapshot-gdb.*):
#   snapshot_gdb_session.sh XENO GDB_SESSION_SH OUTDIR EXIT -- XENO-RUN-ARGS...
# Runs XENO-RUN-ARGS once with --trace and once with --snapshot-at EXIT,
# then tests/gdb/gdb_session.sh with `--restore` of the snapshot: GDB must
# find the machine stopped at the point (monitor exits says EXIT; the
# stopped vcpu's RIP is after exit EXIT's instruction, taken from the
# trace), step, reverse-step back to the point, and see the same there.
set -u
XENO=$1 SESSION=$2 OUT=$3 EXIT=$4
shift 4
[ "$1" = "--" ] && shift
if ! command -v "${GDB:-gdb}" >/dev/null 2>&1; then
    echo "gdb not installed (ci/install-deps.sh installs it): skipped"
    exit 0
fi
mkdir -p "$OUT"
"$XENO" run "$@" --trace "$OUT/full.trace" >/dev/null 2>&1
"$XENO" run "$@" --snapshot-at "$EXIT" "$OUT/point.snap" >"$OUT/snapshot.out" 2>&1
grep -q "^snapshot: " "$OUT/snapshot.out" || { echo "FAIL: no snapshot"; cat "$OUT/snapshot.out"; exit 1; }
# The point's exit: line EXIT of the trace (an I/O exit: the next RIP is rip+len).
LINE=$(sed -n "${EXIT}p" "$OUT/full.trace")
echo "exit $EXIT: $LINE"
case "$LINE" in *IO_INSTRUCTION*) ;; *) echo "FAIL: exit $EXIT is not an I/O exit: pick another"; exit 1 ;; esac
RIP=$(echo "$LINE" | sed -n 's/.* rip=\(0x[0-9a-f]*\) len=\([0-9]*\).*/\1 \2/p')
NEXT=$(printf '0x%x' $(( $(echo "$RIP" | cut -d' ' -f1) + $(echo "$RIP" | cut -d' ' -f2) )))
cat >"$OUT/session.gdb.in" <<GDB
set pagination off
set confirm off
set remotetimeout 120
target remote 127.0.0.1:@PORT@
info registers rip
monitor exits
stepi
stepi
reverse-stepi
reverse-stepi
info registers rip
monitor exits
kill
GDB
cat >"$OUT/session.expect" <<EXPECT
^rip +$NEXT 
^exits=$EXIT\$
^rip +$NEXT 
^exits=$EXIT\$
EXPECT
sh "$SESSION" "$XENO" "$OUT/session.gdb.in" "$OUT/session.expect" "$OUT/gdb" -- --restore "$OUT/point.snap"
