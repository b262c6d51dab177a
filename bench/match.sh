#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Cost of matching one batch's topic against the subscription set, with 10, 1,000 and
# 100,000 subscriptions, the per-topic cache off and on (sluice-bench-match; see the
# comment at the top of bench/bench_match.c for the pattern and topic mix). Issue 5's
# goal: the cost at 100,000 subscriptions within 2x of the cost at 10. Prints a markdown
# table of medians over RUNS (also written to bench/results/match.md) with each row's
# ratio to the 10-subscription row of the same cache mode. Measures, never fails on a
# number. Run it on an otherwise idle machine.
#
#   bench/match.sh [BUILD_DIR] [RUNS]
#   env: BATCHES        matches per run (default 1000000)
#        TOPICS         distinct topics in the working set (default 10000)
#        CACHE_ENTRIES  cache entries, a power of two (default 16384)
#        SUBSCRIPTIONS  comma-separated set sizes (default 10,1000,100000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
runs=${2:-5}
batches=${BATCHES:-1000000}
topics=${TOPICS:-10000}
cache_entries=${CACHE_ENTRIES:-16384}
subscriptions=${SUBSCRIPTIONS:-10,1000,100000}

if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release -Dhot_asserts=false >/dev/null
fi
ninja -C "$build" bench/sluice-bench-match >/dev/null
command -v jq >/dev/null || { echo "match.sh: needs jq" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bench/sluice-bench-match" --runs "$runs" --batches "$batches" --topics "$topics" \
	--cache-entries "$cache_entries" --subscriptions "$subscriptions" >"$work/all.json"

out=bench/results/match.md
mkdir -p bench/results
{
	echo "Subscription matcher, ns per batch (match_topic_hashed), median of $runs runs of $batches batches over $topics topics; cache of $cache_entries entries; build type $(jq -r '.[] | select(.name == "buildtype") | .value' "$build/meson-info/intro-buildoptions.json")"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r); command: BATCHES=$batches TOPICS=$topics CACHE_ENTRIES=$cache_entries SUBSCRIPTIONS=$subscriptions bench/match.sh $build $runs"
	echo
	echo "| subscriptions | cache | ns/batch median | min | max | × the 10-subscription row | matches/batch | trie nodes | cache hits |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
	jq -r -s '
		(map(.subscriptions) | min) as $smallest |
		(map(select(.subscriptions == $smallest)) |
		 map({key: (.cache | tostring), value: .ns_per_match_median}) | from_entries) as $base |
		.[] | [.subscriptions, (if .cache then "on" else "off" end),
		       (.ns_per_match_median * 10 | round / 10), (.ns_per_match_min * 10 | round / 10),
		       (.ns_per_match_max * 10 | round / 10),
		       ((.ns_per_match_median / $base[.cache | tostring]) * 100 | round / 100),
		       .matches_per_batch, .trie_nodes,
		       (if .cache then "\(.cache_hit_ratio * 1000 | round / 10)%" else "—" end)] |
		"| " + (map(tostring) | join(" | ")) + " |"' "$work/all.json"
	echo
	echo "× the 10-subscription row: the median divided by the median of the smallest set in the same cache mode (the goal is ≤ 2 at 100,000)."
} | tee "$out"
