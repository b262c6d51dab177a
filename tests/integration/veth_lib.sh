# SPDX-License-Identifier: BSD-3-Clause
# Shared by the DPDK end-to-end tests (sourced, not run): a veth pair with one end in a
# network namespace of the test's own, a sluiced started by the test, and their cleanup.
# The caller sets: ns, host_if, ns_if (names unique to its pid), log (a temp file), data
# (a temp directory for sluiced's --data-dir) and, once sluiced runs, pid. Only the namespace, the veth and the pid the test made are
# ever removed or killed.

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	cat "$log" >&2
	exit 1
}

veth_cleanup() {
	if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
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
	if [ -n "${data:-}" ]; then rm -rf "$data"; fi
}

# veth_setup [NS_ADDR/PREFIX]: the namespace and the veth pair, both ends up. With an
# address, the namespace end gets it and kernel UDP checksumming there is turned off
# (a veth never fills in the checksums the kernel leaves to "offload").
veth_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace and a veth pair"
	command -v ip >/dev/null || skip "no ip(8)"
	if [ -n "${1:-}" ]; then
		command -v ethtool >/dev/null ||
			skip "no ethtool(8): the namespace end needs tx checksumming off"
	fi
	ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
	if ! ip link add "$host_if" type veth peer name "$ns_if" 2>/dev/null; then
		skip "no veth support in this kernel"
	fi
	ip link set "$ns_if" netns "$ns"
	ip link set "$host_if" up
	ip -n "$ns" link set "$ns_if" up
	if [ -n "${1:-}" ]; then
		ip -n "$ns" addr add "$1" dev "$ns_if"
		ip -n "$ns" link set lo up
		ip netns exec "$ns" ethtool -K "$ns_if" tx off >/dev/null
	fi
}

# router_wait SHARDS: waits for sluiced (pid, log) to say it is ready.
router_wait() {
	for _ in $(seq 100); do
		if grep -q "ready: $1 shards" "$log"; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	if grep -q "no ethdev port" "$log"; then
		skip "net_af_packet could not attach to $host_if here"
	fi
	echo "FAIL: sluiced did not start" >&2
	exit 1
}
