#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end through a real kernel path: sluiced with the DPDK driver on net_af_packet
# (2 queue pairs, 2 shards) on one end of a veth pair, `sluice produce` on ordinary
# kernel UDP sockets in a network namespace on the other end, with no static ARP entry:
# the router's own ARP replies must make it work. Checks every event is acked, the
# shards handed batches to each other, and the router answered ARP and ping.
# Usage: test_dpdk_veth.sh SLUICED SLUICE. Exits 77 (skipped) without root or veth.
set -euo pipefail

sluiced=$1
sluice=$2
ns="sluice-test-$$"
host_if="slv$$a"
ns_if="slv$$b"
router_ip=10.99.0.1
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
command -v ethtool >/dev/null || skip "no ethtool(8): the namespace end needs tx checksumming off"
ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
if ! ip link add "$host_if" type veth peer name "$ns_if" 2>/dev/null; then
	skip "no veth support in this kernel"
fi
ip link set "$ns_if" netns "$ns"
ip link set "$host_if" up
ip -n "$ns" addr add 10.99.0.2/24 dev "$ns_if"
ip -n "$ns" link set "$ns_if" up
ip -n "$ns" link set lo up
# Otherwise the kernel leaves UDP checksums for an offload a veth never performs.
ip netns exec "$ns" ethtool -K "$ns_if" tx off >/dev/null

eal=(--no-huge --no-pci --no-shconf -m 256 --file-prefix "sluice-veth-$$"
	--log-level=error --vdev="net_af_packet0,iface=$host_if,qpairs=2")
lcores=(-l 0-2)
if [ "$(nproc)" -lt 3 ]; then
	lcores=(--lcores '0@0,1@1,2@1')
fi
"$sluiced" "${eal[@]}" "${lcores[@]}" -- --driver dpdk --listen "$router_ip:7800" \
	--mbufs 4096 >"$log" 2>&1 &
pid=$!

ready=0
for _ in $(seq 100); do
	if grep -q "ready: 2 shards" "$log"; then
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

fail() {
	echo "FAIL: $*" >&2
	cat "$log" >&2
	exit 1
}

pinged=0
if command -v ping >/dev/null; then
	ip netns exec "$ns" ping -c 1 -W 2 "$router_ip" >/dev/null || fail "no ICMP echo reply"
	pinged=1
fi
out=$(ip netns exec "$ns" "$sluice" produce --router "$router_ip:7800" --topic t \
	--count 20000 --json) || fail "produce failed: $out"
json=$(tail -n 1 <<<"$out")
grep -q '"acked": *20000' <<<"$json" || fail "not every event acked: $json"
grep -q '"failed": *0' <<<"$json" || fail "some events failed: $json"

stats=$(ip netns exec "$ns" "$sluice" stats --router "$router_ip:7800" --json) ||
	fail "stats failed"
total() {
	python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["totals"][sys.argv[1]])' "$1" <<<"$stats"
}
[ "$(total mesh_out)" -gt 0 ] || fail "no cross-shard hand-off: $stats"
[ "$(total net_arp_requests_answered)" -gt 0 ] || fail "no ARP request answered: $stats"
[ "$(total net_icmp_echo_answered)" -eq "$pinged" ] || fail "ping not counted: $stats"
echo "ok: 20000 events acked, mesh_out $(total mesh_out), arp answered" \
	"$(total net_arp_requests_answered)"
