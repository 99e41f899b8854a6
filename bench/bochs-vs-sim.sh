#!/bin/sh
# Wall time of each scenario under Bochs (the hw build's ISO, `xeno bochs`)
# and under the sim build (`xeno run`), side by side. Run by hand:
#   bench/bochs-vs-sim.sh [BUILD_SIM_DIR [SCENARIO...]]
# Needs build/sim (xeno) and build/hw (the ISOs). The Bochs time is a whole
# boot (BIOS, GRUB, kernel start-up, the scenario, shutdown), the sim time the
# machine run alone; both are the summary line's wall= (host seconds).
# XENO_BOCHS_IPS (default here: Bochs's rig default, 10 M) changes Bochs's cost.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
sim=${1:-$here/build/sim}
[ $# -gt 0 ] && shift
xeno=$sim/xeno
[ -x "$xeno" ] || { echo "bochs-vs-sim: no $xeno (build the sim preset)" >&2; exit 2; }
cd "$here" || exit 2
if [ $# -gt 0 ]; then names=$*; else
    names=$(for d in scenarios/*/guest.asm; do basename "$(dirname "$d")"; done)
fi

wall() { sed -n 's/^summary: .* exits=\([0-9]*\) .* wall=\([0-9.]*\) .*/\1 \2/p'; }
printf '%-16s %-8s %6s %10s %10s %8s\n' scenario profile exits bochs_s sim_s ratio
for name in $names; do
    profiles=$(sed -n 's/^[ \t]*profiles[ \t]*=[ \t]*\[\(.*\)\].*/\1/p' "scenarios/$name/scenario.toml" | tr -d '",')
    for p in $profiles; do
        b=$("$xeno" bochs "scenarios/$name" --profile "$p" 2>/dev/null | wall)
        s=$("$xeno" run "scenarios/$name" --profile "$p" 2>/dev/null | wall)
        set -- $b; bexits=${1:-?}; bwall=${2:-}
        set -- $s; swall=${2:-}
        ratio=$(if [ -n "$bwall" ] && [ -n "$swall" ]; then echo "$bwall $swall" | awk '{ if ($2 > 0) printf "%.0fx", $1 / $2; else print "-" }'; else echo -; fi)
        printf '%-16s %-8s %6s %10s %10s %8s\n' "$name" "$p" "$bexits" "${bwall:-failed}" "${swall:-failed}" "$ratio"
    done
done
