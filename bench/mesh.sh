#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Cost of one cross-shard hand-off through the ring mesh, beside rte_ring's own figures
# measured in the same run. sluice-bench-mesh pushes mbufs of a real mempool from
# shard 0 (main lcore) to shard 1 (one worker lcore) through mesh_push_burst() and
# mesh_pop_burst() in bursts of 1, 8 and 32; it reports wall time / objects (ns per
# hand-off, rte_rdtsc) and hand-offs/s, median over RUNS, in two modes:
#   free    the consumer frees every mbuf into the producer's pool and the producer
#           allocates every burst: what sluiced does, mempool round trip included;
#   return  the consumer sends the mbufs back on ring (1, 0): ring traffic only.
# The baseline is DPDK's ring_perf_autotest (dpdk-test, package dpdk), run RUNS times
# with the same EAL memory profile and two lcores; its "two physical cores" section
# (legacy API, SP/SC bulk, sizes 8 and 32; it has no burst-1 two-core figure) is
# parsed. Read its figure with care: test_ring_perf.c prints TSC cycles per object,
# and on two cores the enqueue lcore's cycles/object PLUS the dequeue lcore's, each
# timed in its own loop while the other runs, whereas sluice's figure is wall time /
# objects with both lcores working at once. The cycles are converted to ns with the
# TSC rate sluice-bench-mesh reports. Measures, never fails on a number. Prints a
# markdown table (also written to bench/results/mesh.md).
#
#   bench/mesh.sh [BUILD_DIR] [RUNS]
#   env: EAL_MEM  EAL memory arguments (default "--no-huge -m 256"; with reserved
#                 hugepages use e.g. "-m 256 --in-memory"; never compare numbers
#                 across the two profiles)
#        OBJECTS  objects per run of sluice-bench-mesh (default 8388608)
#        LCORES   the two lcores (default "0@0,1@1")
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
runs=${2:-5}
eal_mem=${EAL_MEM:---no-huge -m 256}
objects=${OBJECTS:-8388608}
lcores=${LCORES:-0@0,1@1}

if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" bench/sluice-bench-mesh >/dev/null
bench="$build/bench/sluice-bench-mesh"
command -v dpdk-test >/dev/null || { echo "mesh.sh: needs dpdk-test (package dpdk)" >&2; exit 1; }
command -v jq >/dev/null || { echo "mesh.sh: needs jq" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || echo "mesh.sh: fewer than 2 CPUs: both lcores share one, numbers mean little" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2206 # EAL_MEM is a list of arguments, split on purpose
eal=(--no-pci --no-shconf $eal_mem)
for mode in free return; do
	"$bench" --runs "$runs" --objects "$objects" --mode "$mode" -- \
		"${eal[@]}" --lcores "$lcores" --log-level lib.eal:warning \
		>"$work/$mode.json" 2>"$work/$mode.err" ||
		{ cat "$work/$mode.err" >&2; exit 1; }
	grep '^{' "$work/$mode.json" >>"$work/all.json"
done
tsc_hz=$(jq -s '.[0].tsc_hz' "$work/all.json")

# ring_perf_autotest, RUNS times; keep the SP/SC two-core lines of the legacy API.
for ((i = 0; i < runs; i++)); do
	DPDK_TEST=ring_perf_autotest dpdk-test "${eal[@]}" -l 0-1 </dev/null >"$work/rp.txt" 2>&1 ||
		{ cat "$work/rp.txt" >&2; exit 1; }
	awk '/^### Testing using two (physical )?cores/ { on = 1; next }
	     /^###/ { on = 0 }
	     on && /^legacy APIs: SP\/SC: bulk \(size: [0-9]+\):/ {
		     match($0, /size: [0-9]+/); size = substr($0, RSTART + 6, RLENGTH - 6)
		     print size, $NF }' "$work/rp.txt" >>"$work/rp.cycles"
done
[ -s "$work/rp.cycles" ] || echo "mesh.sh: no SP/SC two-core lines in ring_perf_autotest output" >&2

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # mode burst key
	jq -r --arg m "$1" --argjson b "$2" --arg k "$3" 'select(.mode == $m and .burst == $b) | .[$k]' "$work/all.json"
}

out=bench/results/mesh.md
mkdir -p bench/results
{
	echo "Ring mesh hand-off, shard 0 → shard 1 ($lcores, EAL \"$eal_mem\", $runs runs of $objects objects, ring of $(jq -s '.[0].ring_slots' "$work/all.json") slots; TSC $tsc_hz Hz)"
	echo
	echo "| burst | mesh ns/object (free) | hand-offs/s (free) | mesh ns/object (return) | hand-offs/s (return) | rte_ring SP/SC ns/object (ring_perf, enq+deq) | ratio free / rte_ring | full-ring refusals (free) |"
	echo "|---|---|---|---|---|---|---|---|"
	for b in 1 8 32; do
		rp_cyc=$(awk -v b="$b" '$1 == b { print $2 }' "$work/rp.cycles" | median)
		fns=$(field free "$b" ns_per_handoff)
		if [ -n "$rp_cyc" ]; then
			rp_ns=$(awk -v c="$rp_cyc" -v h="$tsc_hz" 'BEGIN { printf "%.2f", c * 1e9 / h }')
			ratio=$(awk -v a="$fns" -v r="$rp_ns" 'BEGIN { printf "%.2f", a / r }')
		else
			rp_ns="—"
			ratio="—"
		fi
		printf '| %s | %.2f | %.1f M | %.2f | %.1f M | %s | %s | %s pushes, %s objects |\n' "$b" \
			"$fns" "$(awk -v x="$(field free "$b" handoffs_per_s)" 'BEGIN { print x / 1e6 }')" \
			"$(field return "$b" ns_per_handoff)" \
			"$(awk -v x="$(field return "$b" handoffs_per_s)" 'BEGIN { print x / 1e6 }')" \
			"$rp_ns" "$ratio" "$(field free "$b" refused_pushes)" "$(field free "$b" refused_objects)"
	done
	echo
	echo "ns/object: wall time / objects, median of $runs runs. Refusals: pushes the full ring took short (the producer retries; the mesh never blocks), summed over the runs."
	echo "rte_ring: median over $runs runs of ring_perf_autotest's SP/SC bulk two-core figure, which is enqueue-side plus dequeue-side cycles per object (no burst-1 figure exists)."
} | tee "$out"
