#!/bin/sh
# One GDB session against the stub (CTest label `gdb`):
#   gdb_session.sh XENO SCRIPT.gdb EXPECT OUTDIR -- XENO-RUN-ARGS...
# Starts `xeno run XENO-RUN-ARGS --gdb 127.0.0.1:0 --gdb-wait` in the
# background (port 0: the kernel picks a free port, xeno prints it), runs
# Debian's gdb in batch mode on SCRIPT.gdb with @PORT@ replaced, and checks
# gdb's output, then xeno's stdout after a line "---- xeno stdout", against
# EXPECT: one extended regular expression a line, each matching a line of
# the output after the previous one's (lines starting with # are comments).
# Everything is time-bounded: a hang fails the test.
set -u
XENO=$1 SCRIPT=$2 EXPECT=$3 OUT=$4
shift 4
[ "$1" = "--" ] && shift
GDB=${GDB:-gdb}
if ! command -v "$GDB" >/dev/null 2>&1; then
    echo "gdb not installed (ci/install-deps.sh installs it): skipped"
    exit 0
fi
mkdir -p "$OUT"
rm -f "$OUT/xeno.out" "$OUT/xeno.err" "$OUT/gdb.out" "$OUT/session.gdb"

timeout 300 "$XENO" run "$@" --gdb 127.0.0.1:0 --gdb-wait >"$OUT/xeno.out" 2>"$OUT/xeno.err" &
XENO_PID=$!
PORT=
i=0
while [ $i -lt 100 ]; do
    PORT=$(sed -n 's/^gdb: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$OUT/xeno.err" 2>/dev/null)
    [ -n "$PORT" ] && break
    kill -0 $XENO_PID 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$PORT" ]; then
    echo "FAIL: xeno did not start listening"
    cat "$OUT/xeno.err"
    kill $XENO_PID 2>/dev/null
    exit 1
fi
sed "s/@PORT@/$PORT/g" "$SCRIPT" >"$OUT/session.gdb"
timeout 240 "$GDB" -batch -nx -x "$OUT/session.gdb" >"$OUT/gdb.out" 2>&1
GDB_STATUS=$?
# xeno ends once gdb kills the run or disconnects; give it a moment.
i=0
while kill -0 $XENO_PID 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 $XENO_PID 2>/dev/null; then
    echo "FAIL: xeno still running 10 s after gdb ended"
    kill $XENO_PID
    STATUS=1
else
    STATUS=0
fi
wait $XENO_PID 2>/dev/null
echo "---- gdb output (status $GDB_STATUS)"
cat "$OUT/gdb.out"
echo "---- xeno stderr"
cat "$OUT/xeno.err"
{ echo "---- xeno stdout"; cat "$OUT/xeno.out"; } >>"$OUT/gdb.out"
[ $GDB_STATUS -eq 124 ] && { echo "FAIL: gdb timed out"; STATUS=1; }

# The expectations, in order.
awk -v expect="$EXPECT" '
    BEGIN {
        n = 0
        while ((getline line < expect) > 0) {
            if (line ~ /^#/ || line == "") continue
            pat[n++] = line
        }
        k = 0
    }
    k < n && $0 ~ pat[k] { k++ }
    END {
        if (k < n) { print "FAIL: no output line after the previous match matches: " pat[k]; exit 1 }
        print "all " n " expectations matched"
    }' "$OUT/gdb.out" || STATUS=1
exit $STATUS
