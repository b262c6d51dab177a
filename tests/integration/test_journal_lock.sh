#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The data directory's lock (DIR/LOCK): a second sluiced on the same --data-dir is refused
# with a message naming the file and the holder's pid; `sluice journal index` is refused
# while a router runs (given the data directory or one of its shard directories) and
# works once it stopped; verify only notes the running router and still exits 0; a
# router with --no-journal touches nothing there and takes no lock.
# Usage: test_journal_lock.sh SLUICED SLUICE
set -uo pipefail

sluiced=$1
sluice=$2
. "$(dirname "$0")/router_lib.sh"
router_lib_init lock
data="$tmp/data"

port=$(( 20000 + ($$ * 7 + 29) % 20000 ))
router=127.0.0.1:$port
port2=$(( port + 1 ))

start() {
	"$sluiced" --listen "$router" --data-dir "$data" --topic lock.test:1 >>"$log" 2>&1 &
	pid=$!
	router_wait_ready
}

start
"$sluice" produce --router "$router" --topic lock.test --acks durable --count 100 \
	>/dev/null 2>&1 || fail "produce"
[ -f "$data/LOCK" ] || fail "no $data/LOCK while sluiced runs"
[ "$(cat "$data/LOCK")" = "$pid" ] || fail "$data/LOCK holds '$(cat "$data/LOCK")', not $pid"

# A second router on the same data directory: refused at once, exit 1, the lock named.
timeout 20 "$sluiced" --listen "127.0.0.1:$port2" --data-dir "$data" --topic lock.test:1 \
	>"$tmp/second" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "a second sluiced on $data exited $rc, expected 1: $(cat "$tmp/second")"
grep -qF "another sluiced holds $data/LOCK (pid $pid)" "$tmp/second" ||
	fail "the second sluiced did not name the lock: $(cat "$tmp/second")"
kill -0 "$pid" || fail "the first sluiced died"

# --no-journal touches nothing in the data directory: no lock taken, it runs.
"$sluiced" --listen "127.0.0.1:$port2" --data-dir "$data" --no-journal --topic lock.test:1 \
	>"$tmp/nojournal" 2>&1 &
nojournal=$!
up=0
for _ in $(seq 100); do
	"$sluice" ping --router "127.0.0.1:$port2" >/dev/null 2>&1 && { up=1; break; }
	sleep 0.1
done
kill -TERM "$nojournal"
wait "$nojournal"
[ "$up" -eq 1 ] || fail "sluiced --no-journal beside a router did not start: $(cat "$tmp/nojournal")"

# index refuses while the router runs, given the data directory or a shard directory.
for dir in "$data" "$data/shard-000"; do
	"$sluice" journal index "$dir" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 1 ] || fail "journal index $dir exited $rc while sluiced runs: $(cat "$tmp/out")"
	grep -qF "a router (pid $pid) runs on $data: it holds $data/LOCK" "$tmp/err" ||
		fail "journal index $dir: $(cat "$tmp/err")"
	[ -s "$tmp/out" ] && fail "journal index $dir wrote: $(cat "$tmp/out")"
done

# verify reads beside it: a note, exit 0.
"$sluice" journal verify "$data" >"$tmp/out" 2>"$tmp/err" ||
	fail "verify beside the router: $(cat "$tmp/out" "$tmp/err")"
grep -qF "note: a router (pid $pid) runs on $data" "$tmp/err" ||
	fail "verify did not note the router: $(cat "$tmp/err")"

stop
# The lock went with the router: index runs, verify has nothing to note.
"$sluice" journal index "$data" >"$tmp/out" 2>"$tmp/err" ||
	fail "journal index after the router stopped: $(cat "$tmp/err")"
grep -q "shard-000: " "$tmp/out" || fail "journal index printed: $(cat "$tmp/out")"
"$sluice" journal verify "$data" >"$tmp/out" 2>"$tmp/err" || fail "verify: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "verify with no router wrote to stderr: $(cat "$tmp/err")"
# And a router starts again on it.
start
stop
echo "ok"
