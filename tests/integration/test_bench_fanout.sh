#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The fan-out benchmark tool works (bench/fanout.sh depends on it): sluice-bench-fanout
# runs for one second against a real sluiced (two shards) at a low paced rate as 2 fan-out
# subscribers and as one subscriber beside a slow one whose credit window of 2 batches
# runs out, so that it is served from the journal; then as a 2-member group, whose
# members acknowledge their own batches between each other's. Each
# run must exit 0 and report events delivered, none lost, no gap in any partition's
# offsets (the slow one's included) and nothing it did not ask for. Asserts behaviour,
# never a rate or a latency.
# Usage: test_bench_fanout.sh SLUICED SLUICE SLUICE_BENCH_FANOUT
set -euo pipefail

sluiced=$1
sluice=$2
bench=$3
. "$(dirname "$0")/router_lib.sh"
router_lib_init bench-fanout

port=$(( 20000 + ($$ * 11 + 29) % 20000 ))
router=127.0.0.1:$port

start() { # sluiced flags...
	"$sluiced" --listen "$router" --shards 2 --ack-timeout-ms 1000 "$@" >>"$log" 2>&1 &
	pid=$!
	router_wait_ready "sluiced $*"
}

# run NAME ARGS...: one second at 2000 events/s; prints the JSON line's checks or fails.
run() {
	local name=$1
	shift
	# A long quiet drain: a loaded CI host (sanitizers) can pause a subscriber longer
	# than the benchmark's 0.5 s, which would read as lost events.
	"$bench" --router "$router" --rate 2000 --seconds 1 --warmup-s 0.2 \
		--drain-quiet-ms 5000 "$@" \
		>"$tmp/$name.json" 2>>"$log" || fail "$name: sluice-bench-fanout $* exited $?"
	python3 - "$name" "$tmp/$name.json" <<'EOF' || fail "$name: $(cat "$tmp/$name.json")"
import json, sys
name, path = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
assert len(lines) == 1, "one JSON line expected, got %d" % len(lines)
r = json.loads(lines[0])
checks = {
    "events published": r["published_total"] > 0,
    "events delivered": r["delivered_total"] > 0 and r["delivered_per_s"] > 0,
    "every acknowledged event delivered": r["lost"] == 0
        and r["delivered_total"] == r["expected_total"],
    "no gap": r["gaps"] == 0 and r["lib_gaps"] == 0 and r["slow_gaps"] == 0,
    "nothing foreign": r["foreign"] == 0 and r["deliveries_invalid"] == 0,
    "latency measured": r["latency_samples"] > 0 and r["p50_us"] > 0,
    "no producer failure": r["produce_failed"] == 0 and r["unflushed"] == 0,
}
if r["slow_rate"] > 0:
    checks["slow subscriber read"] = r["slow_delivered_total"] > 0
    checks["slow subscriber served from the journal"] = r["router_credit_stalls"] > 0
bad = [k for k, ok in checks.items() if not ok]
if bad:
    sys.exit("%s: %s" % (name, ", ".join(bad)))
print("%s: ok (%d events delivered)" % (name, r["delivered_total"]))
EOF
}

start --data-dir "$tmp/data" --fsync never
run fanout --subscribers 2
run slow --subscribers 1 --slow-rate 200 --window-batches 2
run group --subscribers 2 --group g
stop
