#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A full disk: sluiced's data directory on a 4 MiB tmpfs of the test's own, 1 MiB
# segments, and a filler file that leaves no room for the next segment. Durable produce
# must then be NACKed "storage" (counted), the router must keep running and answering,
# and once the filler is removed it must accept durable produce again without a restart.
# Afterwards every event that was acknowledged is in the journal exactly once, and
# `sluice journal verify` passes. Needs root to mount the tmpfs (skips otherwise).
# Usage: test_journal_disk_full.sh SLUICED SLUICE
set -euo pipefail

sluiced=$1
sluice=$2
mnt=""
pid=""
log=$(mktemp)

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	cat "$log" >&2
	exit 1
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || true
		rmdir "$mnt" 2>/dev/null || true
	fi
	rm -f "$log"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs of a fixed size"
mnt=$(mktemp -d)
if ! mount -t tmpfs -o size=4m tmpfs "$mnt"; then
	rmdir "$mnt"
	mnt=""
	skip "cannot mount a tmpfs here"
fi

port=$(( 20000 + $$ % 20000 ))
router=127.0.0.1:$port
"$sluiced" --listen "$router" --data-dir "$mnt/data" --segment-bytes 1048576 \
	--flush-us 100 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	"$sluice" ping --router "$router" >/dev/null 2>&1 && break
	sleep 0.1
done
"$sluice" ping --router "$router" >/dev/null || fail "sluiced did not start"

counter() { # name -> the router-wide sum
	"$sluice" stats --router "$router" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"][sys.argv[1]])' "$1"
}

produce() { # count -> prints "acked failed"
	"$sluice" produce --router "$router" --topic disk.full --acks durable --count "$1" \
		--size 200 --retries 3 --json 2>/dev/null | tail -1 |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["acked"], d["failed"])'
}

# Room for what exists now (the first segment and the one prepared after it) and
# nothing more: the third segment cannot be created. Once the filler goes there is room
# for three segments and their indexes (4 MiB: three 1 MiB segments would fill 3 MiB
# exactly, leaving no page for the index the maintenance thread writes).
avail_kb=$(df -k --output=avail "$mnt" | tail -1)
dd if=/dev/zero of="$mnt/filler" bs=1k count=$(( avail_kb - 64 )) status=none 2>/dev/null || true

# More than two segments' worth: the journal runs out of segments.
read -r acked1 failed1 < <(produce 20000 || true)
[ "$failed1" -gt 0 ] || fail "no produce failed on a full disk (acked $acked1)"
[ "$(counter drop_storage)" -gt 0 ] || fail "drop_storage did not count the refusals"
[ "$(counter journal_storage_errors)" -gt 0 ] || fail "journal_storage_errors stayed 0"
kill -0 "$pid" 2>/dev/null || fail "sluiced died on a full disk"
"$sluice" ping --router "$router" >/dev/null || fail "sluiced stopped answering"
echo "disk full: $acked1 acked, $failed1 refused"

# Space comes back: the journal retries its segment once a second and resumes.
rm -f "$mnt/filler"
acked2=0
for _ in $(seq 20); do
	sleep 0.5
	read -r acked2 failed2 < <(produce 100 || true)
	[ "$failed2" -eq 0 ] && break
done
[ "$acked2" -eq 100 ] || fail "durable produce did not resume after space was freed"
read -r acked3 failed3 < <(produce 5000)
[ "$failed3" -eq 0 ] || fail "$failed3 events failed after space was freed"
echo "space freed: durable produce resumed"

kill -TERM "$pid"
wait "$pid" || fail "sluiced did not exit 0 on SIGTERM"
pid=""
"$sluice" journal verify "$mnt/data" >/dev/null || fail "sluice journal verify failed"
events=$("$sluice" journal dump "$mnt/data" --topic disk.full --format json | wc -l)
# Refused batches were never appended, acknowledged ones were appended once.
expected=$(( acked1 + acked2 + acked3 ))
[ "$events" -eq "$expected" ] || fail "journal holds $events events, $expected were acked"
echo "ok: $events events in the journal, $expected acked durable"
