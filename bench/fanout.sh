#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fan-out (issue 5): delivered events/s and produce -> deliver latency with 1, 4 and 16
# subscribers and with one 4-member group, for 64- and 512-byte events, sluice side by
# side with the peer a user would pick instead, NATS core pub/sub (nats-server from
# Debian), in the same run; then sluice's slow-consumer rows.
#
#   bench/fanout.sh [BUILD_DIR] [RUNS] [SECONDS] [DATA_DIR_PARENT]
#   env: WARMUP_S        unmeasured seconds before each run's window (default 2)
#        SHARDS          sluiced --shards (default 1)
#        WINDOW_BATCHES  sluice consumers' credit window per shard (default 256)
#        SLOW_PERCENT    the slow subscriber's read rate, in % of the fast one's (default 1)
#        FRAME_BYTES     sluice datagram limit: sluiced --frame-bytes-max and the producers'
#                        frame_bytes_max (default 1472, a 1500-byte MTU; 8972 is jumbo
#                        frames, which loopback's 64 KiB MTU carries)
#
# Takes about RUNS x 34 x (SECONDS + WARMUP_S + 2) seconds (26 minutes with the defaults,
# 5 runs of 5 s): 8 configurations x 4 rows (NATS max and paced, sluice max and paced)
# plus 2 slow-consumer rows, RUNS runs each. Run it on a quiet machine.
#
# Both systems get the same load: one publisher (producer) thread cycling topics (NATS
# subjects) bench.0 .. bench.7, subscribers on pattern "bench.>" in threads of one client
# process, each message's send time (CLOCK_MONOTONIC ns) in its first 8 bytes. Each
# configuration runs
#   max    the publisher as fast as the server takes it (closed loop), and
#   paced  open loop at half of NATS's max-row sustainable rate (the slowest subscriber's
#          delivered/s for fan-out, the group's for the group), the same offered load for
#          both systems so that their latencies compare; latency is timed from each
#          message's scheduled send time.
# Figures are medians of RUNS; lost, gaps and slow consumers are summed over the runs.
#
# NATS: the script starts its own nats-server on a free loopback port with default limits
# (stopped by its pid at exit) and drives it with sluice-bench-nats (a NATS core protocol
# client): one connection per subscriber (a queue group for the group rows). Slow
# consumers come from the server's /varz (it closes a subscriber whose backlog passes
# max_pending or write_deadline; the client is told nothing).
#
# sluice: sluice-bench-fanout, libsluice producers and consumers (one consumer per
# subscriber thread, a consumer group of 4 for the group rows), against sluiced on a free
# loopback UDP port started as
#   --shards 1 (SHARDS)   on a 2-vCPU machine one shard leaves the other CPU to the
#                         clients, as nats-server shares both with them; a second shard
#                         would add mesh hand-offs and take CPU from the subscribers.
#   --idle-sleep-us 1000  (the default) one shard sleeps in poll() on its own socket and
#                         wakes as soon as a datagram arrives; busy polling would take a
#                         whole CPU from the clients between and during paced runs.
#   --no-journal          for the fan-out rows: NATS core keeps nothing and delivers at
#                         most once; so does sluice without a journal (a subscriber out of
#                         credit has the batch skipped, counted as lost and in gaps).
#   --data-dir DATA_DIR_PARENT/..., --fsync never
#                         for the slow-consumer rows: the default slow policy, replay,
#                         serves a subscriber that ran out of credit from the journal, so
#                         it needs one. DATA_DIR_PARENT (default /var/tmp) must be a disk,
#                         not tmpfs; fdatasync is off because durability is not measured
#                         here (producers ask acks=received).
#   --consumer-timeout-ms 3000
#                         a subscriber of a run that died is removed within 3 s, not 10,
#                         so it cannot take deliveries from the next run (consumers
#                         heartbeat every second and unsubscribe when a run ends).
#   credit windows        the library's 256 DELIVERs per subscriber and shard (about
#                         300 KiB of 64-byte events), far inside its 4 MiB socket buffer.
#
# Slow consumer (sluice only): one full-speed subscriber with the producer paced at half
# of what one subscriber took in the 64 B max row, then the same plus one subscriber
# reading SLOW_PERCENT % of that rate; the fast subscriber's delivered/s and the
# producer's published/s with the slow one over without it (goal: within 10%, ratio
# >= 0.90), 64-byte events.
#
# Prints markdown tables (also written to bench/results/fanout.md). Fails on tool errors
# (a tool missing or failing, a server that does not start); measures, never fails on a
# number.
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="bench/fanout.sh $*"
build=${1:-build-bench}
runs=${2:-5}
seconds=${3:-5}
parent=${4:-/var/tmp}
warmup_s=${WARMUP_S:-2}
shards=${SHARDS:-1}
window_batches=${WINDOW_BATCHES:-256}
slow_percent=${SLOW_PERCENT:-1}
frame_bytes=${FRAME_BYTES:-1472}

die() {
	echo "fanout.sh: $*" >&2
	exit 1
}
for tool in nats-server jq curl python3; do
	command -v "$tool" >/dev/null || die "needs $tool (scripts/setup.sh)"
done
[ -d "$parent" ] || die "$parent is not a directory"
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" bench/sluice-bench-nats bench/sluice-bench-fanout src/daemon/sluiced \
	src/cli/sluice >/dev/null
nbench="$build/bench/sluice-bench-nats"
sbench="$build/bench/sluice-bench-fanout"
sluiced="$build/src/daemon/sluiced"
sluice="$build/src/cli/sluice"

work=$(mktemp -d)
data=$(mktemp -d "$parent/sluice-fanout-bench.XXXXXX")
server_pid=
router_pid=
stop_pid() {
	if [ -n "$1" ]; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}
cleanup() {
	stop_pid "$server_pid"
	stop_pid "$router_pid"
	rm -rf "$work" "$data"
}
trap cleanup EXIT

free_port() { # tcp|udp
	python3 -c 'import socket, sys
s = socket.socket(type=socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

# --- nats-server -----------------------------------------------------------------------
port=$(free_port tcp)
http_port=$(free_port tcp)
server_cmd=(nats-server -a 127.0.0.1 -p "$port" -m "$http_port" -l "$work/nats-server.log")
"${server_cmd[@]}" &
server_pid=$!
for ((i = 0; i < 50; i++)); do
	grep -q "Server is ready" "$work/nats-server.log" 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q "Server is ready" "$work/nats-server.log" 2>/dev/null ||
	{ cat "$work/nats-server.log" >&2; die "nats-server did not start"; }
varz() { curl -fsS "http://127.0.0.1:$http_port/varz"; }
limits=$(varz | jq -r '"max_pending \(.max_pending) B, write_deadline \(.write_deadline / 1e9) s, max_payload \(.max_payload) B, ping_interval \(.ping_interval / 1e9) s"')

# --- sluiced ---------------------------------------------------------------------------
router=
router_cmds=()
router_start() { # sluiced flags after --listen...
	router="127.0.0.1:$(free_port udp)"
	local args=(--listen "$router" --shards "$shards" --consumer-timeout-ms 3000
		--frame-bytes-max "$frame_bytes" "$@")
	router_cmds+=("sluiced ${args[*]//$data/\$DATA}")
	"$sluiced" "${args[@]}" >"$work/sluiced.log" 2>&1 &
	router_pid=$!
	for ((i = 0; i < 100; i++)); do
		"$sluice" ping --router "$router" >/dev/null 2>&1 && return 0
		kill -0 "$router_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/sluiced.log" >&2
	die "sluiced $* did not start"
}
router_stop() {
	stop_pid "$router_pid"
	router_pid=
}

# run_config SYSTEM ROW KIND BYTES SUBSCRIBERS GROUP RATE [FLAGS...]: RUNS runs, one JSON
# line each in rows.json, tagged with the system, the row, the kind and (NATS) the
# server's slow consumers of the run.
run_config() {
	local system=$1 row=$2 kind=$3 bytes=$4 subs=$5 group=$6 rate=$7 r before after
	shift 7
	local cmd
	if [ "$system" = nats ]; then
		cmd=("$nbench" fanout --server "127.0.0.1:$port")
	else
		cmd=("$sbench" --router "$router" --window-batches "$window_batches"
			--frame-bytes "$frame_bytes")
	fi
	cmd+=(--subscribers "$subs" --event-bytes "$bytes" --seconds "$seconds"
		--warmup-s "$warmup_s" --rate "$rate" "$@")
	if [ "$group" != "-" ]; then
		cmd+=(--group "$group")
	fi
	echo "${cmd[*]}" >>"$work/commands"
	for ((r = 0; r < runs; r++)); do
		before=$([ "$system" = nats ] && varz | jq .slow_consumers || echo 0)
		"${cmd[@]}" >"$work/run.json" 2>"$work/run.err" || { cat "$work/run.err" >&2; die "${cmd[*]} failed"; }
		after=$([ "$system" = nats ] && varz | jq .slow_consumers || echo 0)
		jq -c --arg system "$system" --arg row "$row" --arg kind "$kind" \
			--argjson sc "$((after - before))" \
			'. + {system: $system, row: $row, kind: $kind, slow_consumers: $sc}' \
			"$work/run.json" >>"$work/rows.json"
	done
}

# stat SYSTEM ROW KIND KEY median|sum
stat() {
	jq -s --arg system "$1" --arg row "$2" --arg kind "$3" --arg k "$4" --arg how "$5" '
		[.[] | select(.system == $system and .row == $row and .kind == $kind) | .[$k]]
		| sort
		| if length == 0 then 0
		  elif $how == "sum" then add
		  elif length % 2 == 1 then .[(length - 1) / 2]
		  else (.[length / 2 - 1] + .[length / 2]) / 2 end' "$work/rows.json"
}

# --- fan-out rows: NATS and sluice, configuration by configuration ----------------------
router_start --no-journal
configs=("1 -" "4 -" "16 -" "4 bench")
for bytes in 64 512; do
	for cfg in "${configs[@]}"; do
		read -r subs group <<<"$cfg"
		row="$bytes-$subs-$group"
		echo "fanout.sh: $bytes B, $subs subscribers, group $group" >&2
		run_config nats "$row" max "$bytes" "$subs" "$group" 0
		if [ "$group" = "-" ]; then
			sustained=$(stat nats "$row" max sub_min_delivered_per_s median)
		else
			sustained=$(stat nats "$row" max delivered_per_s median)
		fi
		paced=$(awk -v x="$sustained" 'BEGIN { r = int(x / 2); print (r > 0 ? r : 1) }')
		run_config nats "$row" paced "$bytes" "$subs" "$group" "$paced"
		run_config sluice "$row" max "$bytes" "$subs" "$group" 0
		run_config sluice "$row" paced "$bytes" "$subs" "$group" "$paced"
	done
done
router_stop

# --- slow consumer: sluice with a journal ----------------------------------------------
# The producer is paced at half of what one subscriber took in the 64 B, 1-subscriber max
# row above, so that the fast subscriber keeps up on its own (a producer faster than any
# subscriber would put the "fast" one into replay too); the slow one reads SLOW_PERCENT
# of that rate. Same pace with and without the slow one.
echo "fanout.sh: slow consumer" >&2
pace=$(awk -v x="$(stat sluice 64-1-- max sub_min_delivered_per_s median)" \
	'BEGIN { r = int(x / 2); print (r > 0 ? r : 1) }')
slow_rate=$(awk -v x="$pace" -v p="$slow_percent" 'BEGIN { r = int(x * p / 100); print (r > 0 ? r : 1) }')
router_start --data-dir "$data/slow" --fsync never
run_config sluice slow alone 64 1 - "$pace"
run_config sluice slow with-slow 64 1 - "$pace" --slow-rate "$slow_rate"
router_stop

# --- report ----------------------------------------------------------------------------
m() { awk -v x="$1" 'BEGIN { printf "%.2f M", x / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }'; }
group_cell() { [ "$1" = "-" ] && echo "—" || echo "4 members"; }
goal5() { # BYTES SUBS GROUP RATIO
	if [ "$1" = 64 ] && [ "$3" = "-" ] && { [ "$2" = 1 ] || [ "$2" = 16 ]; }; then
		awk -v x="$4" 'BEGIN { print (x != "–" && x >= 5 ? "≥ 5×: **met**" : "≥ 5×: **not met**") }'
	fi
}
main_row() { # SYSTEM ROW BYTES SUBS GROUP
	local sc=—
	[ "$1" = nats ] && sc=$(($(stat "$1" "$2" max slow_consumers sum) + $(stat "$1" "$2" paced slow_consumers sum)))
	printf '| %s | %s | %s | %s | %s | %s | %s – %s | %.1f | %s | %s | %s | %s | %.0f | %.0f | %.0f | %s |\n' \
		"$([ "$1" = nats ] && echo "NATS core" || echo sluice)" "$3" "$4" "$(group_cell "$5")" \
		"$(m "$(stat "$1" "$2" max published_per_s median)")" \
		"$(m "$(stat "$1" "$2" max delivered_per_s median)")" \
		"$(m "$(stat "$1" "$2" max sub_min_delivered_per_s median)")" \
		"$(m "$(stat "$1" "$2" max sub_max_delivered_per_s median)")" \
		"$(stat "$1" "$2" max delivered_mb_per_s median)" \
		"$(stat "$1" "$2" max lost sum)" "$sc" \
		"$(jq -s --arg s "$1" --arg row "$2" 'map(select(.system == $s and .row == $row and .kind == "paced"))[0].rate' "$work/rows.json")" \
		"$(m "$(stat "$1" "$2" paced delivered_per_s median)")" \
		"$(stat "$1" "$2" paced p50_us median)" "$(stat "$1" "$2" paced p99_us median)" \
		"$(stat "$1" "$2" paced p999_us median)" "$(stat "$1" "$2" paced lost sum)"
}
sluice_row() { # ROW BYTES SUBS GROUP KIND
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$3" "$(group_cell "$4")" "$5" \
		"$(stat sluice "$1" "$5" lost sum)" "$(stat sluice "$1" "$5" gaps sum)" \
		"$(stat sluice "$1" "$5" gap_offsets sum)" "$(stat sluice "$1" "$5" produce_nacks sum)" \
		"$(stat sluice "$1" "$5" produce_retransmits sum)" "$(stat sluice "$1" "$5" router_rx_missed sum)" \
		"$(stat sluice "$1" "$5" router_credit_stalls sum)" \
		"$(stat sluice "$1" "$5" router_policy_skips sum)"
}

out=bench/results/fanout.md
mkdir -p bench/results
{
	echo "# Fan-out: sluice and NATS core"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), kernel $(uname -r); $(nats-server --version) with defaults: $limits; sluiced --shards $shards; $runs runs of ${seconds} s after ${warmup_s} s warm-up, medians; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "Command: \`$cmdline\` with WARMUP_S=$warmup_s SHARDS=$shards WINDOW_BATCHES=$window_batches SLOW_PERCENT=$slow_percent FRAME_BYTES=$frame_bytes."
	echo
	echo "## sluice / NATS core, delivered events/s (max rows) and latency at the same offered load (paced rows)"
	echo
	echo "| event bytes | subscribers | group | NATS delivered/s | sluice delivered/s | sluice / NATS | goal | paced rate/s | NATS p50 / p99 µs | sluice p50 / p99 µs |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for bytes in 64 512; do
		for cfg in "${configs[@]}"; do
			read -r subs group <<<"$cfg"
			row="$bytes-$subs-$group"
			nd=$(stat nats "$row" max delivered_per_s median)
			sd=$(stat sluice "$row" max delivered_per_s median)
			r=$(ratio "$sd" "$nd")
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %.0f / %.0f | %.0f / %.0f |\n' \
				"$bytes" "$subs" "$(group_cell "$group")" "$(m "$nd")" "$(m "$sd")" "$r" \
				"$(goal5 "$bytes" "$subs" "$group" "$r")" \
				"$(jq -s --arg row "$row" 'map(select(.system == "nats" and .row == $row and .kind == "paced"))[0].rate' "$work/rows.json")" \
				"$(stat nats "$row" paced p50_us median)" "$(stat nats "$row" paced p99_us median)" \
				"$(stat sluice "$row" paced p50_us median)" "$(stat sluice "$row" paced p99_us median)"
		done
	done
	echo
	echo "## Both systems, every figure"
	echo
	echo "| system | event bytes | subscribers | group | published/s | delivered/s | per-subscriber delivered/s (min–max) | delivered MB/s | lost | slow consumers | paced rate/s | paced delivered/s | paced p50 µs | paced p99 µs | paced p999 µs | paced lost |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for bytes in 64 512; do
		for cfg in "${configs[@]}"; do
			read -r subs group <<<"$cfg"
			main_row nats "$bytes-$subs-$group" "$bytes" "$subs" "$group"
			main_row sluice "$bytes-$subs-$group" "$bytes" "$subs" "$group"
		done
	done
	echo
	echo "## sluice: loss and its causes (sums over the runs)"
	echo
	echo "| event bytes | subscribers | group | kind | lost | gaps | offsets in gaps | producer NACKs | producer retransmits | router kernel drops | router credit stalls | router policy skips |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for bytes in 64 512; do
		for cfg in "${configs[@]}"; do
			read -r subs group <<<"$cfg"
			for kind in max paced; do
				sluice_row "$bytes-$subs-$group" "$bytes" "$subs" "$group" "$kind"
			done
		done
	done
	echo
	echo "## sluice: slow consumer (64-byte events, producer paced at $pace/s, journal with --fsync never)"
	echo
	fb=$(stat sluice slow alone sub_min_delivered_per_s median)
	fs=$(stat sluice slow with-slow sub_min_delivered_per_s median)
	pb=$(stat sluice slow alone published_per_s median)
	ps=$(stat sluice slow with-slow published_per_s median)
	echo "| run | fast subscriber delivered/s | producer published/s | slow subscriber delivered/s | fast lost | fast gaps | slow gaps |"
	echo "|---|---|---|---|---|---|---|"
	printf '| without the slow one | %s | %s | – | %s | %s | – |\n' "$(m "$fb")" "$(m "$pb")" \
		"$(stat sluice slow alone lost sum)" "$(stat sluice slow alone gaps sum)"
	printf '| with one reading %s/s (%s%%) | %s | %s | %s | %s | %s | %s |\n' "$slow_rate" "$slow_percent" \
		"$(m "$fs")" "$(m "$ps")" "$(stat sluice slow with-slow slow_delivered_per_s median)" \
		"$(stat sluice slow with-slow lost sum)" "$(stat sluice slow with-slow gaps sum)" \
		"$(stat sluice slow with-slow slow_gaps sum)"
	fr=$(ratio "$fs" "$fb")
	pr=$(ratio "$ps" "$pb")
	echo
	echo "With / without: fast subscriber $fr, producer $pr. Goal within 10% (≥ 0.90): $(awk -v a="$fr" -v b="$pr" 'BEGIN { print (a != "–" && b != "–" && a >= 0.9 && b >= 0.9 ? "**met**" : "**not met**") }')."
	echo
	echo "## Reading the tables"
	echo
	echo "published/s and delivered/s are counted over the measured window; delivered/s sums the subscribers (every fan-out subscriber gets every message; a group shares them). MB/s counts payload bytes. lost = expected − delivered after the drain, summed over the runs (expected: what the server accepted × subscribers for fan-out, × 1 for the group). NATS: with the publisher as fast as TCP lets it, published/s can exceed what subscribers take: nats-server buffers the difference (up to max_pending per subscriber) and the run drains it at its end (a PING round trip per connection). sluice: published counts events sl_produce accepted, expected what the router acknowledged; the subscribers drain until they have it or nothing arrives for 0.5 s; without a journal a subscriber out of credit has batches skipped (router policy skips; the subscriber sees gaps: offsets that jumped forward in a partition). Paced: open loop at half NATS's max-row sustainable rate, the same for both systems; latency from each message's scheduled send time (CLOCK_MONOTONIC in its first 8 bytes) to its receipt, medians of each run's percentile; sluice producers linger up to 1 ms for a batch to fill (the library default), which the latency includes."
	echo
	echo "Commands (ports are picked free per run of this script):"
	echo
	echo '```'
	echo "${server_cmd[*]}"
	printf '%s\n' "${router_cmds[@]}"
	awk '!seen[$0]++' "$work/commands"
	echo '```'
} | tee "$out"
