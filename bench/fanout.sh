#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fan-out: delivered events/s and produce -> deliver latency with 1, 4 and 16
# subscribers and with one 4-member group, for 64- and 512-byte events, beside the peer
# a user would pick instead: NATS core pub/sub (nats-server from Debian), measured in
# the same run. This script starts its own nats-server on a free loopback port with
# default limits (stopped by its pid at exit) and drives it with sluice-bench-nats:
# one publisher connection and one connection per subscriber, all on subject pattern
# "bench.>" (a queue group for the group rows). Each configuration runs twice:
#   max    the publisher writes as fast as the server reads (closed loop on TCP);
#   paced  open loop at half the max row's sustainable rate (the slowest subscriber's
#          delivered/s for fan-out, the group's delivered/s for the group): latency is
#          timed from each message's scheduled send time.
# Figures are medians of RUNS; lost and slow consumers are summed over the runs. Slow
# consumers come from the server's /varz (it closes a subscriber whose backlog passes
# max_pending or write_deadline; the client is told nothing). Measures, never fails on a
# number. Prints a markdown table (also written to bench/results/fanout.md).
#
#   bench/fanout.sh [BUILD_DIR] [RUNS] [SECONDS]
#   env: WARMUP_S  unmeasured seconds before each run's window (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
runs=${2:-5}
seconds=${3:-5}
warmup_s=${WARMUP_S:-2}

for tool in nats-server jq curl python3; do
	command -v "$tool" >/dev/null || { echo "fanout.sh: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" bench/sluice-bench-nats >/dev/null
bench="$build/bench/sluice-bench-nats"

work=$(mktemp -d)
server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap stop_server EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=$(free_port)
http_port=$(free_port)
server_cmd=(nats-server -a 127.0.0.1 -p "$port" -m "$http_port" -l "$work/nats-server.log")
"${server_cmd[@]}" &
server_pid=$!
for ((i = 0; i < 50; i++)); do
	grep -q "Server is ready" "$work/nats-server.log" 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q "Server is ready" "$work/nats-server.log" 2>/dev/null ||
	{ echo "fanout.sh: nats-server did not start:" >&2; cat "$work/nats-server.log" >&2; exit 1; }
varz() { curl -fsS "http://127.0.0.1:$http_port/varz"; }
limits=$(varz | jq -r '"max_pending \(.max_pending) B, write_deadline \(.write_deadline / 1e9) s, max_payload \(.max_payload) B, ping_interval \(.ping_interval / 1e9) s"')

# run_config ROW KIND BYTES SUBSCRIBERS GROUP RATE: RUNS runs, one JSON line each in
# rows.json, tagged with the row, the kind and the server's slow consumers of the run.
run_config() {
	local row=$1 kind=$2 bytes=$3 subs=$4 group=$5 rate=$6 r before after
	local cmd=("$bench" fanout --server "127.0.0.1:$port" --subscribers "$subs"
		--event-bytes "$bytes" --seconds "$seconds" --warmup-s "$warmup_s" --rate "$rate")
	if [ "$group" != "-" ]; then
		cmd+=(--group "$group")
	fi
	echo "${cmd[*]}" >>"$work/commands"
	for ((r = 0; r < runs; r++)); do
		before=$(varz | jq .slow_consumers)
		"${cmd[@]}" >"$work/run.json" 2>"$work/run.err" || { cat "$work/run.err" >&2; exit 1; }
		after=$(varz | jq .slow_consumers)
		jq -c --arg row "$row" --arg kind "$kind" --argjson sc "$((after - before))" \
			'. + {row: $row, kind: $kind, slow_consumers: $sc}' "$work/run.json" >>"$work/rows.json"
	done
}

# stat ROW KIND KEY median|sum
stat() {
	jq -s --arg row "$1" --arg kind "$2" --arg k "$3" --arg how "$4" '
		[.[] | select(.row == $row and .kind == $kind) | .[$k]] | sort
		| if $how == "sum" then add
		  elif length % 2 == 1 then .[(length - 1) / 2]
		  else (.[length / 2 - 1] + .[length / 2]) / 2 end' "$work/rows.json"
}

configs=("1 -" "4 -" "16 -" "4 bench")
for bytes in 64 512; do
	for cfg in "${configs[@]}"; do
		read -r subs group <<<"$cfg"
		row="$bytes-$subs-$group"
		run_config "$row" max "$bytes" "$subs" "$group" 0
		if [ "$group" = "-" ]; then
			sustained=$(stat "$row" max sub_min_delivered_per_s median)
		else
			sustained=$(stat "$row" max delivered_per_s median)
		fi
		run_config "$row" paced "$bytes" "$subs" "$group" \
			"$(awk -v x="$sustained" 'BEGIN { r = int(x / 2); print (r > 0 ? r : 1) }')"
	done
done

# The sluice side of each row, run against sluiced with the same sizes, subscriber
# counts and group. sluiced cannot deliver to subscribers before issue 5 lands, so for
# now this says so rather than printing a number.
sluice_rows() {
	echo "sluice: not measured — fan-out needs issue 5's subscriptions (sluiced delivers to no subscriber yet)."
}

m() { awk -v x="$1" 'BEGIN { printf "%.2f M", x / 1e6 }'; }
out=bench/results/fanout.md
mkdir -p bench/results
{
	echo "Fan-out, one publisher, loopback TCP ($(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r); $(nats-server --version) with defaults: $limits; load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $runs runs of ${seconds} s after ${warmup_s} s warm-up)"
	echo
	echo "| system | event bytes | subscribers | group | published/s | delivered/s | per-subscriber delivered/s (min–max) | delivered MB/s | lost | slow consumers | paced rate/s | paced delivered/s | paced p50 µs | paced p99 µs | paced p999 µs | paced lost |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for bytes in 64 512; do
		for cfg in "${configs[@]}"; do
			read -r subs group <<<"$cfg"
			row="$bytes-$subs-$group"
			printf '| NATS core | %s | %s | %s | %s | %s | %s – %s | %.1f | %s | %s | %s | %s | %.0f | %.0f | %.0f | %s |\n' \
				"$bytes" "$subs" "$([ "$group" = "-" ] && echo "—" || echo "4 members")" \
				"$(m "$(stat "$row" max published_per_s median)")" \
				"$(m "$(stat "$row" max delivered_per_s median)")" \
				"$(m "$(stat "$row" max sub_min_delivered_per_s median)")" \
				"$(m "$(stat "$row" max sub_max_delivered_per_s median)")" \
				"$(stat "$row" max delivered_mb_per_s median)" \
				"$(stat "$row" max lost sum)" \
				"$(($(stat "$row" max slow_consumers sum) + $(stat "$row" paced slow_consumers sum)))" \
				"$(jq -s --arg row "$row" 'map(select(.row == $row and .kind == "paced"))[0].rate' "$work/rows.json")" \
				"$(m "$(stat "$row" paced delivered_per_s median)")" \
				"$(stat "$row" paced p50_us median)" "$(stat "$row" paced p99_us median)" \
				"$(stat "$row" paced p999_us median)" "$(stat "$row" paced lost sum)"
		done
	done
	echo
	sluice_rows
	echo
	echo "published/s and delivered/s are counted over the measured window; delivered/s sums the subscribers (every fan-out subscriber gets every message; a group shares them). MB/s counts payload bytes. With the publisher as fast as TCP lets it, published/s can exceed what subscribers take: nats-server buffers the difference (up to max_pending per subscriber), which the run drains at its end, so the sustainable rate is delivered/s. lost = expected − delivered after that drain, summed over the runs (expected: published × subscribers for fan-out, published for the group). Paced: open loop at half the max row's sustainable rate; latency from each message's scheduled send time (CLOCK_MONOTONIC in its first 8 bytes) to its receipt, medians of each run's percentile."
	echo
	echo "Commands (the server's port is picked free per run of this script):"
	echo
	echo '```'
	echo "${server_cmd[*]}"
	awk '!seen[$0]++' "$work/commands"
	echo '```'
} | tee "$out"
