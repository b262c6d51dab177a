#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DPDK producer to DPDK router, two processes over a veth pair: sluiced with the DPDK
# driver on net_af_packet at one end in the root namespace, dpdk_producer (libsluice-dpdk
# on net_af_packet) at the other end inside a network namespace. Neither end has a
# kernel IP address: the producer resolves the router's MAC with its own ARP request,
# the router learns the producer's from its datagrams. Every event must be acked with
# contiguous offsets, also in a second run that loses 10% of datagrams each way
# (retransmits over DPDK). Usage: test_dpdk_producer.sh SLUICED DPDK_PRODUCER.
# Exits 77 (skipped) without root or veth.
set -euo pipefail

sluiced=$1
producer=$2
count=${3:-10000}
ns="sluice-dp-$$"
host_if="sld$$a"
ns_if="sld$$b"
router_ip=10.98.0.1
producer_ip=10.98.0.2
log=$(mktemp)
pid=""

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	ip link del "$host_if" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -f "$log"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace and a veth pair"
command -v ip >/dev/null || skip "no ip(8)"
ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
if ! ip link add "$host_if" type veth peer name "$ns_if" 2>/dev/null; then
	skip "no veth support in this kernel"
fi
ip link set "$ns_if" netns "$ns"
ip link set "$host_if" up
ip -n "$ns" link set "$ns_if" up

lcores=(--lcores '0@0,1@1')
if [ "$(nproc)" -lt 2 ]; then
	lcores=(--lcores '0@0,1@0')
fi
"$sluiced" --no-huge --no-pci --no-shconf -m 256 --file-prefix "sluice-dpr-$$" \
	--log-level=error --vdev="net_af_packet0,iface=$host_if" "${lcores[@]}" \
	-- --driver dpdk --listen "$router_ip:7800" --mbufs 4096 >"$log" 2>&1 &
pid=$!

ready=0
for _ in $(seq 100); do
	if grep -q "ready: 1 shards" "$log"; then
		ready=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ "$ready" -ne 1 ]; then
	cat "$log" >&2
	if grep -q "no ethdev port" "$log"; then
		skip "net_af_packet could not attach to $host_if here"
	fi
	echo "FAIL: sluiced did not start" >&2
	exit 1
fi

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
echo "ok: $count events from a DPDK producer acked, and again with 10% loss each way"
