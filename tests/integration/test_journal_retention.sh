#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Retention end to end: sluiced with 64 KiB segments and --retain-bytes 256 KiB under
# durable produce keeps its shard directory bounded (segments deleted and indexed by the
# maintenance thread, counted), `sluice journal verify` accepts the trimmed journal (its
# offsets start above 0), and after a restart the partition's offsets continue from
# where they were, recovered from the surviving indexes.
# Usage: test_journal_retention.sh SLUICED SLUICE
set -euo pipefail

sluiced=$1
sluice=$2
. "$(dirname "$0")/router_lib.sh"
router_lib_init retention

port=$(( 20000 + ($$ * 7 + 13) % 20000 ))
router=127.0.0.1:$port
shard="$tmp/data/shard-000"

start() {
	"$sluiced" --listen "$router" --data-dir "$tmp/data" --topic retain.test:1 \
		--segment-bytes 65536 --retain-bytes 262144 --maint-period-ms 50 \
		>>"$log" 2>&1 &
	pid=$!
	router_wait_ready
}

counter() { # name -> the router-wide sum
	"$sluice" stats --router "$router" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"][sys.argv[1]])' "$1"
}

produce() { # count -> the number acked
	"$sluice" produce --router "$router" --topic retain.test --acks durable --count "$1" \
		--size 200 --json 2>/dev/null | tail -1 |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["acked"])'
}

segments() {
	find "$shard" -name '*.seg' | wc -l
}

# first and last offset of the journal's events
offsets() {
	"$sluice" journal dump "$tmp/data" --format json |
		python3 -c '
import json, sys
o = [json.loads(l)["offset"] for l in sys.stdin]
print(o[0], o[-1], len(o))'
}

start
acked=0
# About 700 KiB (11 segments) in rounds: the directory must stay bounded all along.
for _ in 1 2 3; do
	n=$(produce 1000)
	[ "$n" -eq 1000 ] || fail "only $n of 1000 events acked durable"
	acked=$(( acked + n ))
	[ "$(segments)" -le 12 ] || fail "$(segments) segments in $shard: retention does not keep up"
done
# The last round's sealed segments are indexed and trimmed within a few passes.
for _ in $(seq 50); do
	[ "$(segments)" -le 9 ] && [ "$(counter journal_segments_deleted)" -gt 0 ] && break
	sleep 0.1
done
[ "$(counter journal_segments_deleted)" -gt 0 ] || fail "journal_segments_deleted stayed 0"
# Segments removed from the journal: deleted, or kept as spares.
deleted=$(( $(counter journal_segments_deleted) + $(counter journal_segments_recycled) ))
[ "$(counter journal_retention_bytes)" -ge $(( deleted * 65536 )) ] ||
	fail "journal_retention_bytes $(counter journal_retention_bytes) < $deleted segments"
[ "$(counter journal_index_built)" -gt 0 ] || fail "journal_index_built stayed 0"
[ "$(counter journal_maint_errors)" -eq 0 ] || fail "journal_maint_errors rose"
n=$(segments)
[ "$n" -ge 5 ] && [ "$n" -le 9 ] || fail "$n segments left, expected 5..9 (256 KiB kept)"
[ -e "$shard/00000000000000000000.seg" ] && fail "the oldest segment is still there"
grep -q "retention removed" "$log" || fail "no retention line in the log"
# --segment-spares 2 (the default): two removed segments kept as spares, reused as the next
# segments, never more than two on disk.
[ "$(counter journal_segments_recycled)" -gt 0 ] || fail "journal_segments_recycled stayed 0"
[ "$(counter journal_segments_reused)" -gt 0 ] || fail "journal_segments_reused stayed 0"
[ "$(find "$shard" -name '*.spare' | wc -l)" -le 2 ] || fail "more than 2 spares in $shard"
stop

"$sluice" journal verify "$tmp/data" >"$tmp/verify" || fail "verify: $(cat "$tmp/verify")"
read -r first last events < <(offsets)
[ "$first" -gt 0 ] || fail "the journal still starts at offset 0"
[ "$last" -eq $(( acked - 1 )) ] || fail "last offset $last, $acked events were acked"
[ "$events" -ge $(( 262144 / 300 )) ] || fail "only $events events kept: below --retain-bytes"

# Restarted: the offsets continue from the surviving indexes' state.
start
n=$(produce 300)
[ "$n" -eq 300 ] || fail "only $n of 300 events acked after the restart"
stop
"$sluice" journal verify "$tmp/data" >"$tmp/verify" || fail "verify: $(cat "$tmp/verify")"
read -r first last events < <(offsets)
[ "$last" -eq $(( acked + 300 - 1 )) ] || fail "after restart: last offset $last, expected $(( acked + 299 ))"
echo "ok: $acked + 300 events, $deleted segments deleted, offsets $first..$last kept"
