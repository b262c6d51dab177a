#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end through a real kernel path: sluiced with the DPDK driver on net_af_packet
# (2 queue pairs, 2 shards) on one end of a veth pair, `sluice produce` on ordinary
# kernel UDP sockets in a network namespace on the other end, with no static ARP entry:
# the router's own ARP replies must make it work. Checks every event is acked, the
# shards handed batches to each other, and the router answered ARP and ping, and that
# the start-up map carries the NUMA check of both shards' memory and of the port.
# Usage: test_dpdk_veth.sh SLUICED SLUICE. Exits 77 (skipped) without root or veth.
set -euo pipefail
. "$(dirname "$0")/veth_lib.sh"

sluiced=$1
sluice=$2
ns="sluice-test-$$"
host_if="slv$$a"
ns_if="slv$$b"
router_ip=10.99.0.1
log=$(mktemp)
data=$(mktemp -d)
pid=""

trap veth_cleanup EXIT
veth_setup "10.99.0.2/24"

eal=(--no-huge --no-pci --no-shconf -m 256 --file-prefix "sluice-veth-$$"
	--log-level=error --vdev="net_af_packet0,iface=$host_if,qpairs=2")
lcores=(-l 0-2)
if [ "$(nproc)" -lt 3 ]; then
	lcores=(--lcores '0@0,1@1,2@1')
fi
"$sluiced" "${eal[@]}" "${lcores[@]}" -- --data-dir "$data" --driver dpdk --listen "$router_ip:7800" \
	--mbufs 4096 >"$log" 2>&1 &
pid=$!

router_wait 2

# The NUMA check runs before the shards start, so its lines precede "ready". This VM
# has one node: everything must be found on it.
for shard in 0 1; do
	grep -q "sluiced: shard $shard: memory on node [0-9]*: ok (mbuf pool, shard state, mesh rings in, journal buffers)" "$log" ||
		fail "no NUMA memory line for shard $shard: $(cat "$log")"
done
grep -Eq "sluiced: port 0 (on numa node [0-9]+: ok|: numa node unknown)" "$log" ||
	fail "no NUMA line for the port: $(cat "$log")"

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
[ "$(total numa_remote)" -eq 0 ] || fail "memory off the shards' node on a 1-node VM: $stats"
echo "ok: 20000 events acked, mesh_out $(total mesh_out), arp answered" \
	"$(total net_arp_requests_answered)"
