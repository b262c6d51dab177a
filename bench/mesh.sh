#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Cost of one cross-shard hand-off through the ring mesh, beside rte_ring's own figures
# measured in the same run. sluice-bench-mesh pushes mbufs of a real mempool from
# shard 0 (main lcore) to shard 1 (one worker lcore) through mesh_push_burst() and
# mesh_pop_burst() in bursts of 1, 8 and 32; it reports wall time / objects (ns per
# hand-off, rte_rdtsc) and hand-offs/s, median over RUNS (one process per run, the mesh
# and the direct rings alternating run by run), in two modes:
#   free    the consumer frees every mbuf into the producer's pool and the producer
#           allocates every burst: what sluiced does, mempool round trip included;
#   return  the consumer sends the mbufs back on ring (1, 0): ring traffic only.
# Each mode runs twice: through the mesh (--ring mesh) and, like for like, with
# `--ring rte_ring`: the same harness (same lcores, same timing, same bursts, same
# modes, same ring size and flags) calling rte_ring_sp_enqueue_burst() and
# rte_ring_sc_dequeue_burst() directly on two plain SP/SC rings. The mesh calls exactly
# those functions after looking its ring up in the from x to table, so the ratio
# mesh / direct is the mesh's own overhead and should stay near 1; run-to-run noise on
# a shared 2-vCPU machine is larger than that lookup, so read it over several RUNS.
# A second baseline is DPDK's ring_perf_autotest (dpdk-test, package dpdk-dev), run RUNS times
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
command -v dpdk-test >/dev/null || { echo "mesh.sh: needs dpdk-test (package dpdk-dev)" >&2; exit 1; }
command -v jq >/dev/null || { echo "mesh.sh: needs jq" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || echo "mesh.sh: fewer than 2 CPUs: both lcores share one, numbers mean little" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2206 # EAL_MEM is a list of arguments, split on purpose
eal=(--no-pci --no-shconf $eal_mem)
# One run at a time, the mesh and the direct rings alternating, so that a noisy spell
# of a shared machine weighs on both sides of the ratio alike (a process per run: its
# own EAL, rings and pool).
for ((i = 0; i < runs; i++)); do
	for mode in free return; do
		for ring in mesh rte_ring; do
			"$bench" --runs 1 --objects "$objects" --mode "$mode" --ring "$ring" -- \
				"${eal[@]}" --lcores "$lcores" --log-level lib.eal:warning \
				>"$work/run.json" 2>"$work/run.err" ||
				{ cat "$work/run.err" >&2; exit 1; }
			grep '^{' "$work/run.json" >>"$work/all.json"
		done
	done
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
field() { # ring mode burst key: the median over the runs (refusals: the sum)
	local how=median
	case "$4" in refused_*) how=sum ;; esac
	jq -r --arg r "$1" --arg m "$2" --argjson b "$3" --arg k "$4" \
		'select(.ring == $r and .mode == $m and .burst == $b) | .[$k]' "$work/all.json" |
		if [ "$how" = sum ]; then awk '{ s += $1 } END { print s + 0 }'; else median; fi
}
mops() { awk -v x="$1" 'BEGIN { printf "%.1f M", x / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }

out=bench/results/mesh.md
mkdir -p bench/results
{
	echo "Ring mesh hand-off, shard 0 → shard 1 ($lcores, EAL \"$eal_mem\", $runs runs of $objects objects, ring of $(jq -s '.[0].ring_slots' "$work/all.json") slots; TSC $tsc_hz Hz)"
	echo
	echo "| burst | path | ns/object (free) | hand-offs/s (free) | ns/object (return) | hand-offs/s (return) | full-ring refusals (free) |"
	echo "|---|---|---|---|---|---|---|"
	for b in 1 8 32; do
		for ring in mesh rte_ring; do
			name="mesh (mesh_push/pop_burst)"
			[ "$ring" = rte_ring ] && name="rte_ring direct (sp_enqueue/sc_dequeue_burst)"
			printf '| %s | %s | %.2f | %s | %.2f | %s | %s pushes, %s objects |\n' "$b" "$name" \
				"$(field "$ring" free "$b" ns_per_handoff)" \
				"$(mops "$(field "$ring" free "$b" handoffs_per_s)")" \
				"$(field "$ring" return "$b" ns_per_handoff)" \
				"$(mops "$(field "$ring" return "$b" handoffs_per_s)")" \
				"$(field "$ring" free "$b" refused_pushes)" "$(field "$ring" free "$b" refused_objects)"
		done
		rp_cyc=$(awk -v b="$b" '$1 == b { print $2 }' "$work/rp.cycles" | median)
		if [ -n "$rp_cyc" ]; then
			rp_ns=$(awk -v c="$rp_cyc" -v h="$tsc_hz" 'BEGIN { printf "%.2f", c * 1e9 / h }')
			printf '| %s | ring_perf_autotest SP/SC bulk (enq+deq cycles) | %s | | | | |\n' "$b" "$rp_ns"
		fi
	done
	echo
	echo "| burst | mesh / direct (free) | mesh / direct (return) | mesh (free) / ring_perf_autotest |"
	echo "|---|---|---|---|"
	for b in 1 8 32; do
		rp_cyc=$(awk -v b="$b" '$1 == b { print $2 }' "$work/rp.cycles" | median)
		rp_ratio="—"
		if [ -n "$rp_cyc" ]; then
			rp_ratio=$(ratio "$(field mesh free "$b" ns_per_handoff)" \
				"$(awk -v c="$rp_cyc" -v h="$tsc_hz" 'BEGIN { print c * 1e9 / h }')")
		fi
		printf '| %s | %s | %s | %s |\n' "$b" \
			"$(ratio "$(field mesh free "$b" ns_per_handoff)" "$(field rte_ring free "$b" ns_per_handoff)")" \
			"$(ratio "$(field mesh return "$b" ns_per_handoff)" "$(field rte_ring return "$b" ns_per_handoff)")" \
			"$rp_ratio"
	done
	echo
	echo "ns/object: wall time / objects, median of $runs runs. Refusals: pushes the full ring took short (the producer retries; the mesh never blocks), summed over the runs."
	echo "rte_ring direct: the same harness, lcores, timing, bursts and modes, on two plain SP/SC rte_rings of the same size and flags (sluice-bench-mesh --ring rte_ring): mesh / direct is the mesh's own overhead."
	echo "ring_perf_autotest: median over $runs runs of its SP/SC bulk two-core figure, which is enqueue-side plus dequeue-side cycles per object (no burst-1 figure exists)."
} | tee "$out"
