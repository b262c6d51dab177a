#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The durable journal (issue 4) side by side with fio on the same file system, in one run,
# alternating baseline and router runs, medians of RUNS:
#   - bandwidth: fio sequential writes (io_uring, O_DIRECT, bs = the router's --flush-bytes,
#     one fdatasync per write = --fsync always) against sluiced (1 shard, default journal
#     flags) under `sluice-bench durable` at its maximum rate (closed loop), with frames of
#     ~1.4 KB made of 16 x 64-byte events and of 1 x 1344-byte event; the router's rate is
#     read from its own counters (journal_write_bytes, journal_bytes) and as the producer
#     saw it. Context rows: fio at iodepth 2 and 4, sluiced --no-direct-io, --fsync never and
#     --no-zero-fill; the journal alone, in-process (sluice-bench-journal: no network, no
#     producer sharing the cores), with and without --zero-fill, and in the steady state
#     of retention (16 MiB segments, --retain-bytes 32 MiB, the maintenance thread
#     running) with recycled segments (--segment-spares 4: new segments are made from
#     the ones retention removes, no zero-fill) and without (--segment-spares 0: each new
#     segment created and zero-filled).
#   - latency: fio's fdatasync latency (bs 4 KiB, one fdatasync per write, iodepth 1) against
#     the durable-ack latency at 50% and 90% of the router's maximum rate (paced, open loop,
#     timed from each frame's scheduled send), and the floor: sluiced --no-journal with
#     acks=received; the journal alone at the same entry rates (append to durable). A
#     second fio reference runs at the journal's own load and cadence: after each
#     journal-alone 50% run, fio writes at that run's write bandwidth (--rate) in blocks of
#     its average write per fdatasync, one fdatasync per write, iodepth 1: the device's
#     flush latency under the same sustained load. The goal is given against both.
#     The paced rows run with the producer's whole window (partitions x stream window):
#     the pace sets the load, and the sweep's window, chosen for the closed loop, would
#     hold frames back behind acks (its "window stalls") and charge that to latency.
#
#   bench/journal.sh [BUILD_DIR] [RUNS] [SECONDS] [DATA_DIR_PARENT]
#   env: PARTITIONS     producer streams, one per partition of topic bench (default 32)
#        STREAM_WINDOW  frames in flight per stream = sluiced --dedupe-window (default 32)
#        WINDOW         frames in flight in all; unset: the best of a short sweep
#
# The maximum rate is a closed loop, and a window larger than the journal can stage
# (--journal-buffers chunks) only buys NACKs busy and go-back-N resends, so the script
# first sweeps the window (64 .. PARTITIONS x STREAM_WINDOW, 2 s each, reported) and uses
# the one with the most acknowledged frames/s and NACKs at most 1% of them (a sustained
# rate) for every sluiced row.
#
# DATA_DIR_PARENT (default /var/tmp) holds one temporary directory for fio's file and the
# router's --data-dir, so both write to the same file system; it must have room for about
# (SECONDS + 4) x 2.5 GiB. Prints a markdown table (also written to
# bench/results/journal.md). Fails on tool errors (a tool missing or failing, a router that
# does not start, lacks journal counters or acknowledges nothing); measures, never fails on
# a number. Takes about RUNS x 25 x (SECONDS + 2) + 30 seconds; run it on a quiet machine.
#
# Why fio iodepth 1 and 2. The journal writes a flush (a chunk sealed at --flush-bytes, or
# smaller once its oldest entry is --flush-us old) only once every write of the previous one
# completed (consecutive chunks share the rewritten
# O_DIRECT tail block), then issues the previous chunk's fdatasync, which runs while the
# next chunk is written: at most one chunk's write and one fdatasync in flight. fio with
# fdatasync=1 at iodepth 1 is write, fdatasync, write, ... strictly in turn (the lower bound
# of that cadence); at iodepth 2 one write and one fdatasync overlap, the journal's own
# pipelining. Both rows are reported and the goal's ratio is given against each; iodepth 4
# is context. The journal zero-fills a segment ahead of use, so its data writes overwrite
# written blocks (an fdatasync then costs ~50 us, not ~190 us: DESIGN.md): fio's reference
# rows overwrite a file written once up front; rows on a fresh fallocated file are context.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
runs=${2:-5}
secs=${3:-5}
parent=${4:-/var/tmp}
warm=1           # unmeasured seconds before each measurement (fio --ramp_time, bench --warmup-s)
partitions=${PARTITIONS:-32}       # producer streams, one per partition of topic bench
stream_window=${STREAM_WINDOW:-32} # frames in flight per stream = --dedupe-window
window=${WINDOW:-}                 # frames in flight in all (closed loop; the bound when paced)
run_secs=$secs                     # measured seconds of the next sluiced run
flush_bytes=$((256 << 10)) # the router's --flush-bytes default: fio's block size
flush_us=100     # the router's --flush-us default: the goal's flush interval
port=7880
# The journal alone in the steady state of retention: small segments and a longer warm-up,
# so that before the measurement retention removes segments and (with spares) new ones are
# made from them (sluice-bench-journal reports segments_created/reused and zero_fill_bytes
# of the measured period: with spares, reused = created and no zero-fill).
retain=(--segment-bytes $((16 << 20)) --retain-bytes $((32 << 20)) --warmup-s 4)

die() {
	echo "journal.sh: $*" >&2
	exit 1
}
for tool in fio python3 findmnt; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs it)"
done
case "$runs$secs" in *[!0-9]*) die "RUNS and SECONDS must be whole numbers" ;; esac
if [ "$runs" -lt 1 ] || [ "$secs" -lt 2 ]; then
	die "RUNS >= 1 and SECONDS >= 2 please"
fi
[ -d "$parent" ] || die "$parent is not a directory"

if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" >/dev/null
bench="$build/bench/sluice-bench"
jbench="$build/bench/sluice-bench-journal"
sluiced="$build/src/daemon/sluiced"
sluice="$build/src/cli/sluice"
router=127.0.0.1:$port

work=$(mktemp -d "$parent/sluice-journal-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR ? (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) : 0)}'; }
# col N LINE...: the median of column N (1-based) over the lines.
col() {
	local n=$1
	shift
	printf '%s\n' "$@" | awk -v n="$n" '{print $n}' | median
}
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN {printf "%.*f", d, v}'; }
mb() { awk -v v="$1" 'BEGIN {printf "%.1f", v / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# Free space check: fio's file is sized so that it cannot wrap within SECONDS.
# fio's fresh file: 2 GiB per second of run, more than fio's 2.3 GiB/s without fdatasync
# (DESIGN.md) can fill once each write waits for one; fallocate makes sizing it free. The
# overwritten file is written once, up front.
fresh_gib=$(((secs + warm + 1) * 2))
over_gib=2
avail_kb=$(df -Pk "$work" | awk 'NR == 2 {print $4}')
[ "$avail_kb" -gt $(((fresh_gib + over_gib) * 1024 * 1024 * 5 / 4)) ] ||
	die "$parent has $((avail_kb / 1024)) MiB free; needs about $(((fresh_gib + over_gib) * 5 / 4)) GiB"

note_cmd() { # remember each distinct command line once, for the report
	local c="$*"
	c=${c//$work/\$WORK}
	c=$(sed -E 's/data\.[0-9]+/data.N/g' <<<"$c") # one fresh directory per run
	grep -qxF -- "$c" "$work/commands" 2>/dev/null || echo "$c" >>"$work/commands"
}

forget() { # PID: drop a reaped process from the cleanup list
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# Every run sets R to one line of numbers and is called in this shell as a plain command
# (never in $(...), where a failure would skip the cleanup trap, nor in an && list, where
# bash suspends set -e for the whole function); failures exit through die.
# fio_run NAME BS IODEPTH over|fresh: R="bw_bytes sync_p50_us sync_p99_us sync_p999_us
# sync_max_us syncs write_clat_p99_us". over: overwrite the pre-written file, wrapping at its
# end (--time_based), as the journal overwrites its zero-filled segments; fresh: a new file
# laid out with fallocate (unwritten extents), too large to wrap within the run.
fio_run() { # NAME BS IODEPTH over|fresh [RATE_BYTES_PER_S]
	local name=$1 bs=$2 qd=$3 layout=$4 rate=${5:-}
	local args=(--name="$name" --ioengine=io_uring --direct=1 --rw=write --bs="$bs"
		--iodepth="$qd" --fdatasync=1 --ramp_time="$warm" --runtime="$secs")
	if [ -n "$rate" ]; then
		args+=(--rate="$rate")
	fi
	if [ "$layout" = over ]; then
		args+=(--filename="$work/fio-over.dat" --size="${over_gib}G" --time_based)
	else
		args+=(--filename="$work/fio-fresh.dat" --size="${fresh_gib}G" --fallocate=native)
	fi
	args+=(--output-format=json)
	note_cmd fio "${args[@]}"
	rm -f "$work/fio-fresh.dat"
	fio "${args[@]}" >"$work/fio.json" 2>"$work/fio.err" ||
		{ cat "$work/fio.err" >&2; die "fio $name failed"; }
	rm -f "$work/fio-fresh.dat"
	R=$(python3 - "$work/fio.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
j = d["jobs"][0]
if j["error"]:
    sys.exit("journal.sh: fio job error %d" % j["error"])
w, s = j["write"], j["sync"]["lat_ns"]
p = s.get("percentile", {})
if s["N"] == 0 or not p:
    sys.exit("journal.sh: fio reported no fdatasync latencies (%s)" % d["fio version"])
print(w["bw_bytes"], p["50.000000"] / 1e3, p["99.000000"] / 1e3, p["99.900000"] / 1e3,
      s["max"] / 1e3, s["N"], w["clat_ns"]["percentile"]["99.000000"] / 1e3)
EOF
	) || die "cannot read fio's results"
}

rpid=
rdir=
nrouter=0
router_start() { # extra sluiced flags...
	nrouter=$((nrouter + 1))
	rdir="$work/data.$nrouter"
	mkdir -p "$rdir"
	local args=(--listen "$router" --idle-sleep-us 0 --data-dir "$rdir"
		--topic "bench:$partitions" --dedupe-window "$stream_window" "$@")
	note_cmd sluiced "${args[@]}"
	"$sluiced" "${args[@]}" 2>"$work/sluiced.err" &
	rpid=$!
	pids+=("$rpid")
	for _ in $(seq 100); do
		"$sluice" ping --router "$router" >/dev/null 2>&1 && return 0
		kill -0 "$rpid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/sluiced.err" >&2
	die "sluiced $* did not start"
}

router_stop() {
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
	forget "$rpid"
	rm -rf "$rdir"
}

stats() { # FILE: the router's counters, or die
	"$sluice" stats --router "$router" --json >"$1" 2>"$work/stats.err" ||
		{ cat "$work/stats.err" >&2; die "sluice stats failed"; }
}

# durable_run [BENCH ARGS...]: R="frames/s events/s body_B/s frame_B/s p50 p99 p999 max nacks
# retransmits window_stalls journal_B/s journal_write_B/s fsyncs/s durable_acks/s"
# The router's counters are read twice inside the bench's measured window.
durable_run() {
	local args=(durable --router "$router" --partitions "$partitions"
		--stream-window "$stream_window" --window "$window" --warmup-s "$warm"
		--seconds "$run_secs" "$@")
	note_cmd sluice-bench "${args[@]}"
	"$bench" "${args[@]}" >"$work/bench.out" 2>"$work/bench.err" &
	local b=$!
	pids+=("$b")
	sleep "$(awk -v w="$warm" 'BEGIN {print w + 0.2}')"
	local t1 t2
	t1=$(date +%s%N)
	stats "$work/s1.json"
	sleep "$(awk -v s="$run_secs" 'BEGIN {print s - 0.5}')"
	t2=$(date +%s%N)
	stats "$work/s2.json"
	wait "$b" || { cat "$work/bench.err" >&2; die "sluice-bench ${args[*]} failed"; }
	forget "$b"
	R=$(python3 - "$work/bench.out" "$work/s1.json" "$work/s2.json" "$t1" "$t2" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.startswith("{")]
if not lines:
    sys.exit("journal.sh: sluice-bench printed no result")
b = json.loads(lines[-1])
if b["frames_acked"] == 0:
    nacks = {k: v for k, v in b.items() if k.startswith("nack_") and v}
    sys.exit("journal.sh: no frame was acknowledged (%s)" % (nacks or "no replies"))
s1 = json.load(open(sys.argv[2]))["totals"]
s2 = json.load(open(sys.argv[3]))["totals"]
need = ("journal_bytes", "journal_write_bytes", "journal_fsyncs", "durable_acks")
missing = [k for k in need if k not in s2]
if missing:
    sys.exit("journal.sh: the router's counters lack %s (no journal in this build?)" % missing)
dt = (int(sys.argv[5]) - int(sys.argv[4])) / 1e9
d = lambda k: (s2[k] - s1[k]) / dt
print(b["frames_per_s"], b["events_per_s"], b["body_bytes_per_s"], b["frame_bytes_per_s"],
      b["lat_p50_us"], b["lat_p99_us"], b["lat_p999_us"], b["lat_max_us"], b["nacks"],
      b["retransmits"], b["window_stalls"], d("journal_bytes"), d("journal_write_bytes"),
      d("journal_fsyncs"), d("durable_acks"))
EOF
	) || die "cannot read the results of sluice-bench ${args[*]}"
}

# journal_run bandwidth|latency [ARGS...]: the journal alone, 1320-byte records (the size
# of a 16 x 64 B frame's body). R="entries/s write_B/s appended_B/s p50 p99 p999 max busy
# fsyncs/s"
journal_run() {
	local mode=$1
	shift
	nrouter=$((nrouter + 1))
	local dir="$work/data.$nrouter"
	local args=("$mode" --dir "$dir" --seconds "$run_secs" --warmup-s "$warm"
		--entry-bytes 1320 "$@")
	note_cmd sluice-bench-journal "${args[@]}"
	"$jbench" "${args[@]}" >"$work/jbench.out" 2>"$work/jbench.err" ||
		{ cat "$work/jbench.err" >&2; die "sluice-bench-journal ${args[*]} failed"; }
	rm -rf "$dir"
	R=$(python3 - "$work/jbench.out" <<'EOF'
import json, sys
b = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(b["entries_per_s"], b["write_mb_per_s"] * 1e6, b["appended_mb_per_s"] * 1e6,
      b["p50_us"], b["p99_us"], b["p999_us"], b["max_us"], b["busy"],
      b["fsyncs"] / b["seconds"])
EOF
	) || die "cannot read the results of sluice-bench-journal ${args[*]}"
}

router_durable() { # "SLUICED FLAGS" BENCH ARGS...
	local flags=$1
	shift
	# shellcheck disable=SC2086
	router_start $flags
	durable_run "$@"
	router_stop
}

fstype=$(findmnt -n -o FSTYPE -T "$work")
fsopts=$(findmnt -n -o OPTIONS -T "$work")
device=$(df -P "$work" | awk 'NR == 2 {print $1}')
mountp=$(df -P "$work" | awk 'NR == 2 {print $6}')
statfs=$(stat -f -c %T "$work")

# --- the window of the closed loop --------------------------------------------------
sweep=()
if [ -z "$window" ]; then
	echo "journal.sh: window sweep" >&2
	run_secs=2
	best=0
	best_w=64
	for w in 64 128 256 512 1024 2048 4096; do
		[ "$w" -le $((partitions * stream_window)) ] || break
		window=$w
		router_durable "" --event-bytes 64 --events-per-frame 16
		sweep+=("$w $R")
		# Sustained: NACKs (busy, and the out-of-sequence ones resending causes) at most
		# 1% of the frames acknowledged.
		if echo "$R" | awk -v b="$best" -v s="$run_secs" \
			'{exit !($1 > b && $9 <= 0.01 * $1 * s)}'; then
			best=${R%% *}
			best_w=$w
		fi
	done
	window=$best_w
	run_secs=$secs
fi

# The file fio overwrites: written once (zeros), synced, as the journal zero-fills segments.
prefill=(--name=prefill --filename="$work/fio-over.dat" --ioengine=io_uring --direct=1
	--rw=write --bs=1M --iodepth=8 --size="${over_gib}G" --zero_buffers --end_fsync=1)
note_cmd fio "${prefill[@]}"
fio "${prefill[@]}" >"$work/fio.out" 2>&1 || { cat "$work/fio.out" >&2; die "fio prefill failed"; }

# --- bandwidth: alternate fio and sluiced -------------------------------------------
fq1=() fq2=() fq4=() ff1=() ff2=() r64=() r1k=() rbuf=() rnever=() rnozero=() jz=() jnz=()
jrz=() jrr=()
for i in $(seq "$runs"); do
	echo "journal.sh: bandwidth run $i/$runs" >&2
	fio_run seqwrite-qd1 "$flush_bytes" 1 over
	fq1+=("$R")
	router_durable "" --event-bytes 64 --events-per-frame 16
	r64+=("$R")
	fio_run seqwrite-qd2 "$flush_bytes" 2 over
	fq2+=("$R")
	router_durable "" --event-bytes 1344 --events-per-frame 1
	r1k+=("$R")
	fio_run seqwrite-qd4 "$flush_bytes" 4 over
	fq4+=("$R")
	router_durable "--no-direct-io" --event-bytes 64 --events-per-frame 16
	rbuf+=("$R")
	fio_run seqwrite-fresh-qd1 "$flush_bytes" 1 fresh
	ff1+=("$R")
	router_durable "--fsync never" --event-bytes 64 --events-per-frame 16
	rnever+=("$R")
	fio_run seqwrite-fresh-qd2 "$flush_bytes" 2 fresh
	ff2+=("$R")
	router_durable "--no-zero-fill" --event-bytes 64 --events-per-frame 16
	rnozero+=("$R")
	journal_run bandwidth
	jz+=("$R")
	fio_run seqwrite-qd1 "$flush_bytes" 1 over
	fq1+=("$R")
	journal_run bandwidth --no-zero-fill
	jnz+=("$R")
	journal_run bandwidth "${retain[@]}" --segment-spares 0
	jrz+=("$R")
	journal_run bandwidth "${retain[@]}" --segment-spares 4
	jrr+=("$R")
done
fio1=$(col 1 "${fq1[@]}")
fio2=$(col 1 "${fq2[@]}")
max_fps=$(col 1 "${r64[@]}")
rate50=$(fmt "$(awk -v m="$max_fps" 'BEGIN {print m * 0.5}')")
rate90=$(fmt "$(awk -v m="$max_fps" 'BEGIN {print m * 0.9}')")

# --- latency: alternate fio and sluiced ---------------------------------------------
# Paced rows: the pace sets the load; the whole window keeps frames from waiting on acks.
bw_window=$window
window=$((partitions * stream_window))
fl=() flf=() fll=() l50=() l90=() lfloor=() jl50=() jl90=() jl50nz=() jl50rz=() jl50rr=()
for i in $(seq "$runs"); do
	echo "journal.sh: latency run $i/$runs" >&2
	fio_run fdatasync-4k 4096 1 over
	fl+=("$R")
	router_durable "" --event-bytes 64 --events-per-frame 16 --rate "$rate50"
	l50+=("$R")
	router_durable "" --event-bytes 64 --events-per-frame 16 --rate "$rate90"
	l90+=("$R")
	router_durable "--no-journal" --event-bytes 64 --events-per-frame 16 --rate "$rate50" \
		--acks received
	lfloor+=("$R")
	fio_run fdatasync-4k-fresh 4096 1 fresh
	flf+=("$R")
	journal_run latency --rate "$rate50"
	jl50+=("$R")
	# fio at that run's load and cadence: its write bandwidth, its bytes per fdatasync.
	read -r load_bs load_rate < <(echo "$R" | awk '{
		bs = ($9 > 0 ? int($2 / $9 / 4096) * 4096 : 4096); if (bs < 4096) bs = 4096
		printf "%d %d\n", bs, $2 }')
	fio_run fdatasync-journal-load "$load_bs" 1 over "$load_rate"
	fll+=("$R $load_bs")
	journal_run latency --rate "$rate90"
	jl90+=("$R")
	journal_run latency --rate "$rate50" --no-zero-fill
	jl50nz+=("$R")
	journal_run latency --rate "$rate50" "${retain[@]}" --segment-spares 0
	jl50rz+=("$R")
	journal_run latency --rate "$rate50" "${retain[@]}" --segment-spares 4
	jl50rr+=("$R")
done
fio_p99=$(col 3 "${fl[@]}")
goal_us=$(awk -v p="$fio_p99" -v f="$flush_us" 'BEGIN {printf "%.1f", 2 * p + f}')
fio_load_p99=$(col 3 "${fll[@]}")
goal_load_us=$(awk -v p="$fio_load_p99" -v f="$flush_us" 'BEGIN {printf "%.1f", 2 * p + f}')

# --- report ---------------------------------------------------------------------------
mkdir -p bench/results
out=bench/results/journal.md
fio_row() { # label LINES...
	local label=$1
	shift
	local bw
	bw=$(col 1 "$@")
	echo "| $label | $(mb "$bw") | – | – | $(ratio "$bw" "$fio1") | $(ratio "$bw" "$fio2") |" \
		"$(fmt "$(col 3 "$@")" 1) µs fdatasync p99 |"
}
router_row() { # label LINES...
	local label=$1
	shift
	local wb jb
	wb=$(col 13 "$@")
	jb=$(col 12 "$@")
	echo "| $label | $(mb "$wb") | $(mb "$jb") | $(mb "$(col 3 "$@")") |" \
		"$(ratio "$wb" "$fio1") | $(ratio "$wb" "$fio2") |" \
		"$(fmt "$(col 1 "$@")") frames/s, $(fmt "$(col 14 "$@")") fsyncs/s," \
		"p99 $(fmt "$(col 6 "$@")" 1) µs, nacks $(col 9 "$@"), retransmits $(col 10 "$@") |"
}
journal_row() { # label LINES... (journal_run bandwidth)
	local label=$1
	shift
	local wb
	wb=$(col 2 "$@")
	echo "| $label | $(mb "$wb") | $(mb "$(col 3 "$@")") | – |" \
		"$(ratio "$wb" "$fio1") | $(ratio "$wb" "$fio2") |" \
		"$(fmt "$(col 1 "$@")") entries/s, $(fmt "$(col 9 "$@")") fsyncs/s, busy $(col 8 "$@") |"
}
verdicts() { # P99_US: "goal vs fio 4 KiB | goal vs fio at the journal's load"
	awk -v p="$1" -v g="$goal_us" -v l="$goal_load_us" 'BEGIN {
		printf "%s | %s", (p <= g ? "**met**" : "**not met**"), (p <= l ? "**met**" : "**not met**") }'
}
journal_lat_row() { # label load LINES... (journal_run latency)
	local label=$1 load=$2
	shift 2
	local p99
	p99=$(col 5 "$@")
	echo "| $label | $load | $(fmt "$(col 1 "$@")") | $(fmt "$(col 4 "$@")" 1) |" \
		"$(fmt "$p99" 1) | $(fmt "$(col 6 "$@")" 1) | $(fmt "$(col 7 "$@")" 1) |" \
		"– | busy $(col 8 "$@") | $(verdicts "$p99") |"
}
lat_row() { # label load LINES...
	local label=$1 load=$2
	shift 2
	local p99 verdict
	p99=$(col 6 "$@")
	verdict=$(verdicts "$p99")
	[ "$label" = "${label%floor*}" ] || verdict="(floor) | (floor)"
	echo "| $label | $load | $(fmt "$(col 1 "$@")") | $(fmt "$(col 5 "$@")" 1) |" \
		"$(fmt "$p99" 1) | $(fmt "$(col 7 "$@")" 1) | $(fmt "$(col 8 "$@")" 1) |" \
		"$(col 11 "$@") | $(col 9 "$@") | $verdict |"
}
{
	echo "# Durable journal vs fio on the same file system"
	echo
	echo "$(date -u '+%F %H:%M UTC'), $(nproc) vCPU, kernel $(uname -r), $(fio --version)."
	echo "Data directory: \`$parent\` on \`$device\` mounted at \`$mountp\`, $fstype" \
		"(\`stat -f\`: $statfs), options \`$fsopts\`."
	echo "$runs runs of ${secs}s (after ${warm}s unmeasured), medians; fio and sluiced alternate."
	echo "sluiced: 1 shard, --idle-sleep-us 0, default journal flags (--flush-bytes" \
		"$((flush_bytes >> 10)) KiB, --flush-us $flush_us, --fsync always) unless the row says;"
	echo "producer: sluice-bench durable, $partitions partitions, $stream_window frames in flight" \
		"per stream, $bw_window in all (bandwidth rows), $window in all (paced latency rows)."
	echo
	echo "## Bandwidth (fio: sequential write, bs $((flush_bytes >> 10)) KiB, O_DIRECT, io_uring, fdatasync after every write)"
	echo
	echo "| row | write MB/s | appended MB/s | producer body MB/s | vs fio QD1 | vs fio QD2 | notes |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	fio_row "fio iodepth 1, overwrite" "${fq1[@]}"
	fio_row "fio iodepth 2, overwrite" "${fq2[@]}"
	fio_row "fio iodepth 4, overwrite" "${fq4[@]}"
	fio_row "fio iodepth 1, fresh file (fallocate)" "${ff1[@]}"
	fio_row "fio iodepth 2, fresh file (fallocate)" "${ff2[@]}"
	router_row "sluiced durable, 16 x 64 B (1336 B frames)" "${r64[@]}"
	router_row "sluiced durable, 1 x 1344 B (1416 B frames)" "${r1k[@]}"
	router_row "sluiced --no-direct-io, 16 x 64 B" "${rbuf[@]}"
	router_row "sluiced --fsync never, 16 x 64 B" "${rnever[@]}"
	router_row "sluiced --no-zero-fill, 16 x 64 B" "${rnozero[@]}"
	journal_row "journal alone (in-process), 1320 B records" "${jz[@]}"
	journal_row "journal alone, --no-zero-fill" "${jnz[@]}"
	journal_row "journal alone, retention, 16 MiB segments, zero-fill (no spares)" "${jrz[@]}"
	journal_row "journal alone, retention, 16 MiB segments, recycled (4 spares)" "${jrr[@]}"
	echo
	echo "write MB/s: the router's journal_write_bytes per second (what reached the file:"
	echo "entries, block padding, rewritten tail blocks); appended: journal_bytes per second"
	echo "(entries); producer body: record bytes acknowledged durable, as sluice-bench saw them."
	echo "fio overwrite: a file written once up front, rewritten in a loop, as the journal"
	echo "writes into segments it zero-filled ahead of use (those zero-fill writes are not in"
	echo "journal_write_bytes: they are the journal's extra cost, visible as lower data MB/s);"
	echo "fresh: a new fallocated file. Ratios are against the overwrite rows."
	echo "Goal: journal write bandwidth at least 0.90 of fio's (the 16 x 64 B row vs fio)."
	echo
	if [ "${#sweep[@]}" -gt 0 ]; then
		echo "Window sweep (closed loop, 16 x 64 B, 2 s each, one run): the rows above use"
		echo "window $window, the fastest with NACKs at most 1% of acknowledged frames."
		echo
		echo "| window | frames/s | p99 µs | nacks | retransmits | write MB/s |"
		echo "|---:|---:|---:|---:|---:|---:|"
		for l in "${sweep[@]}"; do
			echo "$l" | awk '{printf "| %d | %.0f | %.1f | %d | %d | %.1f |\n", $1, $2, $7, $10, $11, $14 / 1e6}'
		done
		echo
	fi
	echo "## Latency (fio: bs 4 KiB, fdatasync after every write, iodepth 1; sluiced: paced, 16 x 64 B)"
	echo
	echo "Maximum rate (median of the 16 x 64 B bandwidth rows): $(fmt "$max_fps") frames/s;"
	echo "50%: $rate50 frames/s, 90%: $rate90 frames/s. Goal: durable-ack p99 <= 2 x fio's"
	echo "fdatasync p99 + --flush-us, against fio at 4 KiB: 2 x $(fmt "$fio_p99" 1) + $flush_us ="
	echo "**$goal_us µs**; against fio at the journal's 50% load and cadence ($(fmt "$(col 8 "${fll[@]}")")-byte"
	echo "writes at $(mb "$(col 1 "${fll[@]}")") MB/s, one fdatasync each): 2 x $(fmt "$fio_load_p99" 1) + $flush_us = **$goal_load_us µs**."
	echo
	echo "| row | load | rate achieved /s | p50 µs | p99 µs | p999 µs | max µs | window stalls | nacks | goal (fio 4 KiB) | goal (fio at journal load) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
	echo "| fio fdatasync (4 KiB), overwrite | QD1 | $(fmt "$(awk -v n="$(col 6 "${fl[@]}")" \
		-v s="$secs" 'BEGIN {print n / s}')") | $(fmt "$(col 2 "${fl[@]}")" 1) |" \
		"$(fmt "$fio_p99" 1) | $(fmt "$(col 4 "${fl[@]}")" 1) | $(fmt "$(col 5 "${fl[@]}")" 1) | – | – | – | – |"
	echo "| fio fdatasync at the journal's 50% load, overwrite | QD1, $(mb "$(col 1 "${fll[@]}")") MB/s | $(fmt "$(awk -v n="$(col 6 "${fll[@]}")" \
		-v s="$secs" 'BEGIN {print n / s}')") | $(fmt "$(col 2 "${fll[@]}")" 1) |" \
		"$(fmt "$fio_load_p99" 1) | $(fmt "$(col 4 "${fll[@]}")" 1) | $(fmt "$(col 5 "${fll[@]}")" 1) | – | – | – | – |"
	echo "| fio fdatasync (4 KiB), fresh file | QD1 | $(fmt "$(awk -v n="$(col 6 "${flf[@]}")" \
		-v s="$secs" 'BEGIN {print n / s}')") | $(fmt "$(col 2 "${flf[@]}")" 1) |" \
		"$(fmt "$(col 3 "${flf[@]}")" 1) | $(fmt "$(col 4 "${flf[@]}")" 1) |" \
		"$(fmt "$(col 5 "${flf[@]}")" 1) | – | – | (context) | (context) |"
	lat_row "sluiced durable ack" "50% ($rate50/s)" "${l50[@]}"
	lat_row "sluiced durable ack" "90% ($rate90/s)" "${l90[@]}"
	lat_row "sluiced --no-journal, acks=received (floor)" "50% ($rate50/s)" "${lfloor[@]}"
	journal_lat_row "journal alone (append to durable)" "50% ($rate50/s)" "${jl50[@]}"
	journal_lat_row "journal alone (append to durable)" "90% ($rate90/s)" "${jl90[@]}"
	journal_lat_row "journal alone, --no-zero-fill" "50% ($rate50/s)" "${jl50nz[@]}"
	journal_lat_row "journal alone, retention, zero-fill (no spares)" "50% ($rate50/s)" "${jl50rz[@]}"
	journal_lat_row "journal alone, retention, recycled (4 spares)" "50% ($rate50/s)" "${jl50rr[@]}"
	echo
	echo "Ack latency is timed from each frame's scheduled send (open loop), so queueing"
	echo "behind a slow fdatasync is charged to every frame it delayed; the journal-alone"
	echo "rows time each entry from its scheduled append to the durable end covering it."
	echo
	echo "## Commands (\$WORK = a fresh directory under $parent; data.N: a fresh one per run)"
	echo
	echo '```'
	cat "$work/commands"
	echo '```'
} >"$out"
cat "$out"
