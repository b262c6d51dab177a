#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DPDK producer to DPDK router, two processes over a veth pair: sluiced with the DPDK
# driver on net_af_packet at one end in the root namespace, dpdk_producer (libsluice-dpdk
# on net_af_packet) at the other end inside a network namespace. Neither end has a
# kernel IP address: the producer resolves the router's MAC with its own ARP request,
# the router learns the producer's from its datagrams. Every event must be acked with
# contiguous offsets, also in a second run that loses 10% of datagrams each way
# (retransmits over DPDK). Then `sluice produce --driver dpdk` does the same through
# the command line tool. Usage: test_dpdk_producer.sh SLUICED DPDK_PRODUCER SLUICE.
# Exits 77 (skipped) without root or veth.
set -euo pipefail
. "$(dirname "$0")/veth_lib.sh"

sluiced=$1
producer=$2
sluice=$3
count=10000
ns="sluice-dp-$$"
host_if="sld$$a"
ns_if="sld$$b"
router_ip=10.98.0.1
producer_ip=10.98.0.2
log=$(mktemp)
data=$(mktemp -d)
pid=""

trap veth_cleanup EXIT

veth_setup

lcores=(--lcores '0@0,1@1')
if [ "$(nproc)" -lt 2 ]; then
	lcores=(--lcores '0@0,1@0')
fi
"$sluiced" --no-huge --no-pci --no-shconf -m 256 --file-prefix "sluice-dpr-$$" \
	--log-level=error --vdev="net_af_packet0,iface=$host_if" "${lcores[@]}" \
	-- --data-dir "$data" --driver dpdk --listen "$router_ip:7800" --mbufs 4096 >"$log" 2>&1 &
pid=$!

router_wait 1

# run NAME TOPIC DROP_PERMILLE: one producer process; fails the test unless all acked.
run() {
	local rc=0 out
	out=$(ip netns exec "$ns" "$producer" --no-huge --no-pci --no-shconf -m 128 \
		--file-prefix "sluice-dpp-$$-$1" --log-level=error -l 0 \
		--vdev="net_af_packet0,iface=$ns_if" -- "$router_ip:7800" "$producer_ip" \
		"$count" "$2" "$3") || rc=$?
	echo "$1: $out"
	if [ "$rc" -eq 77 ]; then
		skip "the producer could not use net_af_packet on $ns_if"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: dpdk_producer ($1) exited $rc" >&2
		cat "$log" >&2
		exit 1
	fi
	grep -q "^acked $count failed 0 gaps 0 " <<<"$out" || {
		echo "FAIL: not every event acked ($1): $out" >&2
		exit 1
	}
	last=$out
}
run clean dpdk.clean 0
run lossy dpdk.lossy 100
[ "$(awk '{print $8}' <<<"$last")" -gt 0 ] || {
	echo "FAIL: no retransmit with 10% loss: $last" >&2
	exit 1
}
kill -0 "$pid" 2>/dev/null || {
	echo "FAIL: sluiced died" >&2
	cat "$log" >&2
	exit 1
}

# The same through `sluice produce --driver dpdk`: its JSON summary must count every
# event acked, and the router must have appended them to the topic.
out=$(ip netns exec "$ns" "$sluice" produce --driver dpdk --local-ip "$producer_ip" \
	--router "$router_ip:7800" --topic dpdk.cli --count "$count" --size 64 --json -- \
	--no-huge --no-pci --no-shconf -m 128 --file-prefix "sluice-dpp-$$-cli" \
	--log-level=error -l 0 --vdev="net_af_packet0,iface=$ns_if" 2>/dev/null) || {
	echo "FAIL: sluice produce --driver dpdk exited non-zero: $out" >&2
	cat "$log" >&2
	exit 1
}
summary=$(tail -n 1 <<<"$out")
grep -q "\"acked\":$count," <<<"$summary" && grep -q '"failed":0,' <<<"$summary" || {
	echo "FAIL: sluice produce --driver dpdk did not get every ack: $summary" >&2
	exit 1
}
echo "cli: $summary"
echo "ok: $count events from a DPDK producer acked, again with 10% loss each way, and"
echo "again from sluice produce --driver dpdk"
