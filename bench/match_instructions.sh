#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Instructions and simulated data-cache misses per batch of the subscription matcher
# (match_topic_hashed, callees included), counted by valgrind's callgrind: the same
# counts on a busy machine as on a quiet one, unlike bench/match.sh's nanoseconds. Runs
# sluice-bench-match once per subscription count under callgrind, dumping a profile after
# each matcher is destroyed (cache off, then on), and prints a markdown table (also
# written to bench/results/match-instructions.md). The counts include the working set's
# first, cold lookups (TOPICS of BATCHES). Caches simulated: 48 KiB 12-way L1D and an
# 8 MiB 16-way last level, fixed so that runs on other machines compare. Slow: about a
# minute per 1,000,000 batches at 100,000 subscriptions.
#
#   bench/match_instructions.sh [BUILD_DIR]
#   env: BATCHES, TOPICS, CACHE_ENTRIES, SUBSCRIPTIONS as for bench/match.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
batches=${BATCHES:-1000000}
topics=${TOPICS:-10000}
cache_entries=${CACHE_ENTRIES:-16384}
subscriptions=${SUBSCRIPTIONS:-10,1000,100000}

for tool in valgrind callgrind_annotate; do
	command -v "$tool" >/dev/null || { echo "match_instructions.sh: needs $tool" >&2; exit 1; }
done
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" bench/sluice-bench-match >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One row from one profile: match_topic_hashed's inclusive counts divided by the batches.
# callgrind_annotate prints each count as "1,234 (5.6%)"; the events are, in order,
# Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
row() {
	callgrind_annotate --inclusive=yes --threshold=100 "$3" >"$3.txt" 2>/dev/null
	grep -m1 'match_topic_hashed' "$3.txt" | sed -E 's/\( *[0-9.]+%\)//g; s/,//g' |
		awk -v subs="$1" -v cache="$2" -v b="$batches" '{
			printf "| %s | %s | %.1f | %.2f | %.3f |\n", subs, cache, $1 / b,
			       ($5 + $6) / b, ($8 + $9) / b }'
}

out=bench/results/match-instructions.md
mkdir -p bench/results
{
	echo "Subscription matcher under callgrind: per batch (match_topic_hashed and its callees), $batches batches over $topics topics; cache of $cache_entries entries"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') with $(valgrind --version), kernel $(uname -r); command: BATCHES=$batches TOPICS=$topics CACHE_ENTRIES=$cache_entries SUBSCRIPTIONS=$subscriptions bench/match_instructions.sh $build"
	echo
	echo "| subscriptions | cache | instructions/batch | L1D misses/batch | LL misses/batch (8 MiB) |"
	echo "|---:|---|---:|---:|---:|"
	for subs in ${subscriptions//,/ }; do
		valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 --LL=8388608,16,64 \
			--callgrind-out-file="$work/cg.$subs" --dump-after=match_destroy \
			"$build/bench/sluice-bench-match" --runs 1 --batches "$batches" \
			--topics "$topics" --cache-entries "$cache_entries" \
			--subscriptions "$subs" >/dev/null 2>"$work/valgrind.$subs.log"
		row "$subs" off "$work/cg.$subs.1"
		row "$subs" on "$work/cg.$subs.2"
	done
} | tee "$out"
