#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# `sluice journal verify|dump|stats|index` over data directories written by journal_gen: exit
# statuses (0 intact, 1 damaged or unreadable, 2 usage), the exact events of a JSON dump
# (recomputed here from journal_gen's formula and parsed with python3), the filters, the
# text format's escapes, and the messages for each kind of damage.
# Usage: test_journal_cli.sh SLUICE JOURNAL_GEN
set -u

SLUICE=$1
GEN=$2
TMP=$(mktemp -d /tmp/sluice-journal-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILED=0

fail() {
	echo "FAIL: $*" >&2
	FAILED=1
}

# expect STATUS CMD...: runs CMD with stdout in $TMP/out and stderr in $TMP/err.
expect() {
	local want=$1
	shift
	"$@" >"$TMP/out" 2>"$TMP/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		fail "$* exited $got, expected $want; stderr: $(head -c 400 "$TMP/err")"
	fi
}

contains() {
	local file=$1 text=$2
	if ! grep -qF -- "$text" "$file"; then
		fail "$file lacks '$text': $(head -c 600 "$file")"
	fi
}

gen() {
	rm -rf "$TMP/data"
	"$GEN" "$TMP/data" "$1" >/dev/null || fail "journal_gen $1"
}

# The events journal_gen writes, in dump order, as JSON objects (one per line).
cat >"$TMP/check.py" <<'EOF'
import json, sys

def expected():
    for shard in (0, 1):
        parts = [("orders", shard), ("orders", shard + 2), ("audit.log", shard)]
        nxt = [0, 0, 0]
        append = 1700000000500000000
        for b in range(300):
            for p, (topic, part) in enumerate(parts):
                count = 1 + b % 3
                for r in range(count):
                    off = nxt[p] + r
                    key = b"" if off % 7 == 3 else f"k-{topic}-{part}-{off}".encode()
                    odd = bytes([0, 0xff, 0x22, 0x5c, 0x0a, 0xc3, 0xa9, 0x7f, 0x80])
                    value = f"v{off}".encode() + (odd if off % 5 == 0 else b"")
                    yield {"topic": topic, "partition": part, "offset": off,
                           "timestamp_ns": 1700000000000000000 + off * 1000 + part,
                           "append_ns": append,
                           "key": key.decode("latin-1"), "value": value.decode("latin-1"),
                           "producer_id": 1000 + part, "producer_epoch": 1, "sequence": b}
                append += 1
                nxt[p] += count

mode = sys.argv[1]
raw = open(sys.argv[2], "rb").read()
raw.decode("ascii")  # the dump escapes every byte >= 0x80
got = [json.loads(line) for line in raw.decode("ascii").splitlines()]
want = list(expected())
if mode == "filtered":
    want = [e for e in want if e["topic"] == "orders" and e["partition"] == 2
            and e["offset"] >= 100]
if got != want:
    n = min(len(got), len(want))
    diff = next((i for i in range(n) if got[i] != want[i]), n)
    print(f"{len(got)} events, {len(want)} expected; first difference at {diff}:",
          got[diff] if diff < len(got) else None, want[diff] if diff < len(want) else None)
    sys.exit(1)
print(len(got))
EOF

# ---- an intact journal ----
gen none
expect 0 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/out" "shard-000: 4 segments, 900 entries"
contains "$TMP/out" "3 partitions: ok"
contains "$TMP/out" "shard-001: 3 segments, 900 entries"
# journal_gen writes no segment indexes: derived data, not an error.
contains "$TMP/out" "shard-000/00000000000000000000.idx: index missing, the router rebuilds it at start"
contains "$TMP/out" "shard-001: 2 of 2 segment indexes missing, 0 damaged"
expect 0 "$SLUICE" journal index "$TMP/data"
contains "$TMP/out" "shard-000/00000000000000061440.idx: written (was missing)"
contains "$TMP/out" "shard-001: 2 sealed segments, 2 indexes written"
expect 0 "$SLUICE" journal verify "$TMP/data"
[ "$(wc -l <"$TMP/out")" = 2 ] || fail "verify printed $(wc -l <"$TMP/out") lines"
expect 0 "$SLUICE" journal index "$TMP/data"
contains "$TMP/out" "shard-000: 2 sealed segments, 0 indexes written"
expect 0 "$SLUICE" journal verify "$TMP/data/shard-001"
contains "$TMP/out" "shard-001: 3 segments"

expect 0 "$SLUICE" journal dump "$TMP/data" --format json
python3 "$TMP/check.py" all "$TMP/out" >"$TMP/py" || fail "json dump: $(cat "$TMP/py")"
expect 0 "$SLUICE" journal dump --topic orders --partition 2 --from 100 --format json "$TMP/data"
python3 "$TMP/check.py" filtered "$TMP/out" >"$TMP/py" || fail "filtered dump: $(cat "$TMP/py")"
contains "$TMP/py" "500"

expect 0 "$SLUICE" journal dump "$TMP/data"
[ "$(wc -l <"$TMP/out")" = 3600 ] || fail "text dump printed $(wc -l <"$TMP/out") lines"
contains "$TMP/out" 'orders 0 0 2023-11-14T22:13:20.000000000Z producer=1000 epoch=1 seq=0 key=k-orders-0-0 value=v0\x00\xff"\x5c\x0a\xc3\xa9\x7f\x80'
contains "$TMP/out" 'audit.log 1 3 2023-11-14T22:13:20.000003001Z producer=1001 epoch=1 seq=2 key= value=v3'
expect 0 "$SLUICE" journal dump "$TMP/data" --topic audit.log --from 599
[ "$(wc -l <"$TMP/out")" = 2 ] || fail "--topic --from printed $(wc -l <"$TMP/out") lines"

expect 0 "$SLUICE" journal stats "$TMP/data"
contains "$TMP/out" "shard-000"
contains "$TMP/out" "events          1800"
expect 0 "$SLUICE" journal stats "$TMP/data" --json
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s["shards"]) == 2, s
assert sum(x["events"] for x in s["shards"]) == 3600, s
p = s["shards"][1]["partitions"]
assert [(x["topic"], x["partition"]) for x in p] == [("audit.log", 1), ("orders", 1), ("orders", 3)], p
assert all(x["events"] == 600 and x["first_offset"] == 0 and x["next_offset"] == 600 for x in p), p
assert s["shards"][0]["segments"] == 4 and not s["shards"][0]["torn"], s
' "$TMP/out" || fail "stats --json"

# ---- damaged segment indexes ----
printf '\x77' | dd of="$TMP/data/shard-000/00000000000000000000.idx" bs=1 seek=100 \
	conv=notrunc 2>/dev/null
expect 1 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/out" "shard-000/00000000000000000000.idx: index DAMAGED"
contains "$TMP/out" "shard-000: 0 of 2 segment indexes missing, 1 damaged"
# A valid index of another segment: the CRC holds, the contents do not match.
cp "$TMP/data/shard-001/00000000000000000000.idx" "$TMP/data/shard-000/00000000000000000000.idx"
expect 1 "$SLUICE" journal verify "$TMP/data/shard-000"
contains "$TMP/out" "shard-000/00000000000000000000.idx: index DIFFERS from its segment"
rm "$TMP/data/shard-000/00000000000000000000.idx"
printf 'junk' >"$TMP/data/shard-000/00000000000000061440.idx"
expect 0 "$SLUICE" journal index "$TMP/data/shard-000"
contains "$TMP/out" "00000000000000000000.idx: written (was missing)"
contains "$TMP/out" "00000000000000061440.idx: written (was damaged)"
expect 0 "$SLUICE" journal verify "$TMP/data"

# ---- damage ----
gen torn
expect 1 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/out" "shard-000: 4 segments, 900 entries"
contains "$TMP/out" "torn tail (recovered at next start)"
expect 0 "$SLUICE" journal dump "$TMP/data" --format json
python3 "$TMP/check.py" all "$TMP/out" >"$TMP/py" || fail "torn dump: $(cat "$TMP/py")"
contains "$TMP/err" "torn tail"

gen corrupt
expect 1 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/out" "shard-000: 4 segments, 10 entries"
contains "$TMP/out" "CORRUPT"
contains "$TMP/out" "shard-000/00000000000000000000.seg: bad crc at position"
contains "$TMP/out" "shard-001: 3 segments, 900 entries"
expect 1 "$SLUICE" journal dump "$TMP/data"
contains "$TMP/err" "the journal is corrupt"

gen version
expect 1 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/err" "shard-000/00000000000000000000.seg: unknown journal format version 3"
contains "$TMP/out" "shard-001: 3 segments, 900 entries"
expect 1 "$SLUICE" journal stats "$TMP/data"
contains "$TMP/err" "version 3"

gen gap
expect 1 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/out" "offset gap in orders/1"
contains "$TMP/out" "shard-000: 4 segments, 900 entries, "

gen unfinished
expect 0 "$SLUICE" journal verify "$TMP/data"
contains "$TMP/out" "1 unfinished segment (removed at next start)"

# ---- reading beside retention ----
# dump blocked writing its output (a one-page pipe nobody reads) while it prints segment
# 0; meanwhile retention renames segment 0 to a spare and unlinks segment 1. dump must
# finish with exit 0, a note naming them, and print segment 0 whole (it was read before it
# went) and then segments 2 and 3: nothing from 1, nothing twice.
gen none
shard0="$TMP/data/shard-000"
mkdir "$TMP/head" "$TMP/tail"
cp "$shard0/00000000000000000000.seg" "$TMP/head/"
cp "$shard0/00000000000000122880.seg" "$shard0/00000000000000184320.seg" "$TMP/tail/"
"$SLUICE" journal dump "$TMP/head" --format json >"$TMP/want" || fail "dump of segment 0"
"$SLUICE" journal dump "$TMP/tail" --format json >>"$TMP/want" || fail "dump of segments 2-3"
python3 - "$SLUICE" "$shard0" "$TMP/got" "$TMP/err" <<'EOF_PY' || fail "dump beside retention"
import array, fcntl, os, subprocess, sys, termios, time

sluice, shard, got_path, err_path = sys.argv[1:5]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
with open(err_path, "wb") as err:
    p = subprocess.Popen([sluice, "journal", "dump", shard, "--format", "json"],
                         stdout=w, stderr=err)
os.close(w)

def queued():
    n = array.array("i", [0])
    fcntl.ioctl(r, termios.FIONREAD, n)
    return n[0]

# Full pipe: dump is blocked in a write, inside segment 0 (~95 KB of output).
deadline = time.monotonic() + 20
while queued() < 4096:
    if p.poll() is not None or time.monotonic() > deadline:
        sys.exit("dump never filled the pipe")
    time.sleep(0.01)
os.rename(os.path.join(shard, "00000000000000000000.seg"),
          os.path.join(shard, "00000000000000000000.spare"))
os.unlink(os.path.join(shard, "00000000000000061440.seg"))
with open(got_path, "wb") as got:
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        got.write(chunk)
sys.exit(p.wait())
EOF_PY
cmp -s "$TMP/want" "$TMP/got" ||
	fail "dump beside retention: $(wc -l <"$TMP/got") lines, $(wc -l <"$TMP/want") expected"
contains "$TMP/err" "retention removed 2 segments (up to 00000000000000061440.seg) while they were read: skipped, not damage"

# ---- errors and usage ----
expect 1 "$SLUICE" journal verify "$TMP/missing"
contains "$TMP/err" "$TMP/missing: No such file or directory"
mkdir "$TMP/empty"
expect 1 "$SLUICE" journal dump "$TMP/empty"
contains "$TMP/err" "$TMP/empty: not a sluice journal"
expect 2 "$SLUICE" journal
expect 2 "$SLUICE" journal frob "$TMP/data"
contains "$TMP/err" "frob: not a journal command"
expect 2 "$SLUICE" journal verify
contains "$TMP/err" "missing DIR"
expect 2 "$SLUICE" journal verify "$TMP/data" --json
contains "$TMP/err" "--json: not a flag of \`sluice journal verify\`"
expect 2 "$SLUICE" journal dump "$TMP/data" --format xml
expect 2 "$SLUICE" journal dump "$TMP/data" --partition x
expect 2 "$SLUICE" journal dump "$TMP/data" extra
expect 2 "$SLUICE" journal index "$TMP/data" --json
expect 0 "$SLUICE" journal --help
contains "$TMP/out" "usage: sluice journal verify DIR"
expect 0 "$SLUICE" journal dump --help

exit $FAILED
