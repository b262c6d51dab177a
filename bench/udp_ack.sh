#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Producer -> router -> ack throughput on kernel UDP, side by side with the echo
# baseline (recvmmsg/sendmmsg, no protocol work) on the same kind of socket, the same
# generator, the same window. Alternates baseline and router runs, reports medians.
#
#   bench/udp_ack.sh [BUILD_DIR] [RUNS] [SECONDS]
#
# Prints a markdown table (also written to bench/results/udp_ack.md). Measures, never
# fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
runs=${2:-5}
secs=${3:-3}

if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" >/dev/null
bench="$build/bench/sluice-bench"
sluiced="$build/src/daemon/sluiced"
sluice="$build/src/cli/sluice"
port=7870
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_echo() { # event_bytes events_per_frame
	"$bench" echo 127.0.0.1:$port & local p=$!; pids+=("$p")
	sleep 0.3
	"$bench" load --router 127.0.0.1:$port --event-bytes "$1" --events-per-frame "$2" \
		--seconds "$secs"
	kill "$p"; wait "$p" 2>/dev/null || true
}

run_router() { # event_bytes events_per_frame
	"$sluiced" --listen 127.0.0.1:$port --no-journal --idle-sleep-us 0 2>/dev/null & local p=$!
	pids+=("$p")
	for _ in $(seq 100); do "$sluice" ping --router 127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
	"$bench" load --router 127.0.0.1:$port --event-bytes "$1" --events-per-frame "$2" \
		--seconds "$secs"
	kill "$p"; wait "$p" 2>/dev/null || true
}

run_library() { # event_bytes
	"$sluiced" --listen 127.0.0.1:$port --no-journal --idle-sleep-us 0 2>/dev/null & local p=$!
	pids+=("$p")
	for _ in $(seq 100); do "$sluice" ping --router 127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
	"$sluice" produce --router 127.0.0.1:$port --topic bench --count 2000000 --size "$1" \
		--json 2>/dev/null | tail -1
	kill "$p"; wait "$p" 2>/dev/null || true
}

mkdir -p bench/results
out=bench/results/udp_ack.md
{
	echo "# Kernel UDP: producer -> router -> ack vs recvmmsg/sendmmsg echo"
	echo
	echo "$(date -u +%F), $(nproc) vCPU, $(uname -r), $runs runs of ${secs}s, medians."
	echo "Generator: sluice-bench load (window 256 datagrams); router: sluiced, 1 shard,"
	echo "--idle-sleep-us 0. Library: sluice produce (libsluice), 2,000,000 events."
	echo
	echo "| event bytes | events/frame | echo dgram/s | router dgram/s | ratio | router events/s | libsluice events/s |"
	echo "|---:|---:|---:|---:|---:|---:|---:|"
} >"$out"

for size in 64 512; do
	for epf in 1 full; do
		n=$([ "$epf" = full ] && echo 0 || echo 1)
		e=(); r=(); ev=(); lib=()
		for _ in $(seq "$runs"); do
			e+=("$(run_echo "$size" "$n" | field datagrams_per_s)")
			res=$(run_router "$size" "$n")
			r+=("$(echo "$res" | field datagrams_per_s)")
			ev+=("$(echo "$res" | field events_per_s)")
			epf_real=$(echo "$res" | field events_per_frame)
		done
		if [ "$epf" = full ]; then
			for _ in $(seq "$runs"); do lib+=("$(run_library "$size" | field events_per_s)"); done
			libm=$(printf '%s\n' "${lib[@]}" | median)
		else
			libm="-"
		fi
		em=$(printf '%s\n' "${e[@]}" | median)
		rm_=$(printf '%s\n' "${r[@]}" | median)
		evm=$(printf '%s\n' "${ev[@]}" | median)
		ratio=$(awk -v a="$rm_" -v b="$em" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
		echo "| $size | $epf_real | $em | $rm_ | $ratio | $evm | $libm |" >>"$out"
	done
done
cat "$out"
