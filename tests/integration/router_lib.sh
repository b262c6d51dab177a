# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the integration tests that run one sluiced on loopback. The test calls
# router_lib_init NAME (scratch directory $tmp, router output in $log, the EXIT trap that
# stops the router and removes $tmp), sets `sluice` (the CLI) and `router` (HOST:PORT),
# starts sluiced in the background with its output appended to "$log" and its pid in
# `pid`, then calls router_wait_ready.

router_lib_init() { # NAME
	tmp=$(mktemp -d "/tmp/sluice-$1.XXXXXX")
	log="$tmp/log"
	pid=""
	trap router_lib_cleanup EXIT
}

fail() {
	echo "FAIL: $*" >&2
	cat "$log" >&2
	exit 1
}

router_lib_cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}

# Waits until the router answers PING (10 s at most), else fails naming WHAT.
router_wait_ready() { # [WHAT]
	for _ in $(seq 100); do
		"$sluice" ping --router "$router" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "${1:-sluiced} did not start"
}

# Stops the router with SIGTERM; fails unless it exits 0.
stop() {
	kill -TERM "$pid"
	wait "$pid" || fail "sluiced did not exit 0 on SIGTERM"
	pid=""
}
