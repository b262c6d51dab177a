#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Pipeline throughput of the DPDK path with no producer core: `sluice-bench pcap` writes
# a capture of valid Ethernet/IPv4/UDP PRODUCE frames (PARTITIONS partitions, 1 and 16
# events of 64 bytes per frame, correct IPv4 and UDP checksums), and sluiced replays it
# with net_pcap,rx_pcap=FILE,infinite_rx=1 with 1 shard and with 2 shards (one rx_pcap
# queue each). Without a tx_pcap/tx_iface argument net_pcap gives every queue a TX that
# counts and frees (its "tx_drop"): the router's ACKs go there, as to a net_null port.
# In the same run:
#   - dpdk-testpmd in io mode on the same capture, same EAL memory profile, same number
#     of cores and queues: the packet-I/O ceiling (it also sends every frame back out);
#   - the kernel UDP driver (sluiced --driver udp, 1 shard) under sluice-bench load with
#     the same frame shape: the kernel baseline.
#
#   bench/pipeline.sh [BUILD_DIR] [SECONDS] [RUNS]
#   env: EAL_MEM   EAL memory arguments (default "--no-huge -m 1024"; on a machine with
#                  reserved hugepages use e.g. "-m 1024 --in-memory": DPDK rates roughly
#                  double, so never compare numbers across the two profiles)
#        PARTITIONS partitions in the capture (default 16)
#        FRAMES     frames in the capture (default 2048; net_pcap copies them all into
#                   the shard's mbuf pool at start, so keep it well under --mbufs)
#
# What the numbers mean (read this before quoting them). A replayed capture repeats the
# same frames: each stream (producer, partition) starts at sequence 0 with STREAM_HEAD,
# so the first pass is appended and every later pass is answered as a duplicate (the
# router recalls the original offsets and sends an ACK, status DUPLICATE). No frame
# design avoids this without weakening dedupe: a stream only moves forward, and a
# replayed frame can never carry a newer epoch or a later sequence than its first pass.
# So the figure reported is ACKED frames per second (frames that went through decap,
# wire validation with CRC32C, routing, the mesh when the owner is another shard,
# dedupe and an ACK encapsulated and sent), and events/s is that times the events per
# frame: events carried by processed frames, not appended events. Today (no journal)
# an append and a duplicate differ by a few stores; once the journal copies appended
# batches, this benchmark must change (for example a bench-only flag that skips dedupe)
# before its events/s can be called an append rate. Busy NACKs (a full ring between two
# shards: the replay has no backpressure, so a faster shard can outrun a slower owner)
# are shown as drops/s and are not counted as processed. The topic "bench" is declared
# with PARTITIONS partitions (--topic), so no frame is refused as an unknown partition.
#
# The router's rates come from its periodic counter line (--stats-interval-s 1; the
# DPDK driver on net_pcap has no UDP path for `sluice stats`), stamped on arrival with
# bash's EPOCHREALTIME; the first line is skipped as warm-up. testpmd's come from its
# --stats-period 1 Rx-pps lines (median, first skipped). Measures, never fails on a
# number. Prints a markdown table (also written to bench/results/pipeline.md).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
secs=${2:-10}
runs=${3:-3}
eal_mem=${EAL_MEM:---no-huge -m 1024}
partitions=${PARTITIONS:-16}
frames=${FRAMES:-2048}
router_ip=10.0.0.1
router_port=7800
udp_port=7871

if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" bench/sluice-bench src/daemon/sluiced src/cli/sluice >/dev/null
bench="$build/bench/sluice-bench"
sluiced="$build/src/daemon/sluiced"
sluice="$build/src/cli/sluice"
command -v dpdk-testpmd >/dev/null || { echo "pipeline.sh: needs dpdk-testpmd (package dpdk-dev)" >&2; exit 1; }
[ "$secs" -ge 2 ] || { echo "pipeline.sh: SECONDS must be at least 2" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# lcore lists: main + N workers. With fewer than N+1 CPUs the main lcore (which sleeps:
# sluiced's control loop, testpmd's stats printer) shares CPU 0 with the first worker.
lcores() { # workers
	if [ "$(nproc)" -gt "$1" ]; then
		echo "-l 0-$1"
	elif [ "$1" -eq 1 ]; then
		echo "--lcores 0@0,1@1"
	else
		echo "--lcores 0@0,1@0,2@1"
	fi
}

vdev() { # pcap queues
	local v="net_pcap0"
	for _ in $(seq "$2"); do v+=",rx_pcap=$1"; done
	echo "$v,infinite_rx=1"
}

stamp() { while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) : 0)}'; }
field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }

# Starts a program, waits (up to 30 s) for `marker` in its output, lets it run `secs`
# more seconds plus one (the warm-up sample the parsers skip), then SIGINT; its output,
# stamped, is in $work/out.
run_for() { # marker command...
	local marker=$1
	shift
	: >"$work/out"
	"$@" > >(stamp >"$work/out") 2>&1 </dev/null &
	local p=$!
	pids+=("$p")
	for _ in $(seq 300); do
		grep -aq -- "$marker" "$work/out" && break
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	sleep $((secs + 1))
	kill -INT "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	pids=("${pids[@]/$p/}")
	sleep 0.2 # let the stamper drain
}

testpmd_pps() { # pcap workers
	# shellcheck disable=SC2046,SC2086
	run_for "RX-packets:" dpdk-testpmd $eal_mem --no-pci --no-shconf --file-prefix "slpipe-tp-$$" \
		$(lcores "$2") --vdev="$(vdev "$1" "$2")" -- --forward-mode=io \
		--port-topology=loop --stats-period=1 --nb-cores="$2" --rxq="$2" --txq="$2" \
		--total-num-mbufs=$((16384 * $2))
	tr -d '\033' <"$work/out" | grep -ao "Rx-pps: *[0-9]*" | awk '{print $2}' | tail -n +2 | median
}

# "acked_frames_per_s drops_per_s" from sluiced's counter lines.
sluiced_rates() { # pcap shards
	# shellcheck disable=SC2046,SC2086
	run_for "ready:" "$sluiced" $eal_mem --no-pci --no-shconf --file-prefix "slpipe-sd-$$" \
		--log-level=error $(lcores "$2") --vdev="$(vdev "$1" "$2")" -- --no-journal --driver dpdk \
		--listen "$router_ip:$router_port" --topic "bench:$partitions" --mbufs 16383 \
		--stats-interval-s 1
	sed '/stopping/,$d' "$work/out" | grep -a "stats: rx .* produce frames" | tail -n +2 |
		sed -E 's/^([0-9.]+) .* ([0-9]+) acks, ([0-9]+) nacks, ([0-9]+) drops.*/\1 \2 \4/' |
		awk 'NR == 1 {t0 = $1; a0 = $2; d0 = $3} {t = $1; a = $2; d = $3}
			END {if (NR < 2 || t == t0) print 0, 0;
			     else printf "%.0f %.0f\n", (a - a0) / (t - t0), (d - d0) / (t - t0)}'
}

kernel_rates() { # events_per_frame -> "datagrams_per_s events_per_s"
	"$sluiced" --listen "127.0.0.1:$udp_port" --no-journal --topic "bench:$partitions" \
		--idle-sleep-us 0 \
		2>/dev/null &
	local p=$!
	pids+=("$p")
	for _ in $(seq 100); do
		"$sluice" ping --router "127.0.0.1:$udp_port" >/dev/null 2>&1 && break
		sleep 0.1
	done
	local res
	res=$("$bench" load --router "127.0.0.1:$udp_port" --event-bytes 64 \
		--events-per-frame "$1" --seconds "$secs")
	kill "$p"
	wait "$p" 2>/dev/null || true
	pids=("${pids[@]/$p/}")
	echo "$(field datagrams_per_s <<<"$res") $(field events_per_s <<<"$res")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

mkdir -p bench/results
out=bench/results/pipeline.md
{
	echo "# Pipeline throughput: pcap replay into sluiced vs testpmd io and kernel UDP"
	echo
	echo "$(date -u +%F), $(nproc) vCPU, $(uname -r), EAL memory \`$eal_mem\`,"
	echo "$runs runs of ${secs}s, medians. Capture: $frames frames over $partitions partitions,"
	echo "64-byte events, acks=received. Router frames/s = ACKed PRODUCE frames per second"
	echo "(after the first pass every frame is a duplicate: see bench/pipeline.sh);"
	echo "events/s = frames/s x events per frame. Kernel: sluiced --driver udp, 1 shard,"
	echo "under sluice-bench load (closed loop, window 256) on loopback."
	echo
	echo "| events/frame | shards | testpmd io pps | sluiced frames/s | sluiced events/s | vs testpmd | events/s per shard | kernel UDP events/s | vs kernel per core | busy drops/s |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$out"

for epf in 1 16; do
	pcap="$work/produce-$epf.pcap"
	"$bench" pcap --out "$pcap" --partitions "$partitions" --events-per-frame "$epf" \
		--event-bytes 64 --frames "$frames" --router-ip "$router_ip" \
		--router-port "$router_port" >/dev/null
	k=()
	for _ in $(seq "$runs"); do k+=("$(kernel_rates "$epf" | cut -d' ' -f2)"); done
	kernel=$(printf '%s\n' "${k[@]}" | median)
	for shards in 1 2; do
		t=(); f=(); d=()
		for _ in $(seq "$runs"); do
			t+=("$(testpmd_pps "$pcap" "$shards")")
			read -r fr dr < <(sluiced_rates "$pcap" "$shards")
			f+=("$fr")
			d+=("$dr")
		done
		tm=$(printf '%s\n' "${t[@]}" | median)
		fm=$(printf '%s\n' "${f[@]}" | median)
		dm=$(printf '%s\n' "${d[@]}" | median)
		ev=$((fm * epf))
		per_shard=$((ev / shards))
		echo "| $epf | $shards | $tm | $fm | $ev | $(ratio "$fm" "$tm") | $per_shard |" \
			"$kernel | $(ratio "$per_shard" "$kernel") | $dm |" >>"$out"
	done
done
cat "$out"
