#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs exactly the Debian 12 packages sluice needs to build, test and benchmark.
# Idempotent: does nothing when everything is present; runs `apt-get update` once
# otherwise. Needs root (or sudo) the first time.
set -euo pipefail

packages=(
	# build
	gcc pkg-config meson ninja-build
	libdpdk-dev liburing-dev libnuma-dev
	# tests: unit tests, sanitizer and fuzz builds, format check, network namespaces
	libcmocka-dev clang clang-format libclang-rt-14-dev iproute2 ethtool iputils-ping python3
	# benchmarks: testpmd baseline, pcap PMD, fio baseline, NATS core fan-out baseline
	dpdk dpdk-dev libpcap-dev fio nats-server
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	as_root=(sudo)
fi
echo "setup: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
	"${missing[@]}" >&2
