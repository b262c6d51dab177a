#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Sets up a fresh Debian 12 machine, builds sluice and starts sluiced on its default:
# kernel UDP on 127.0.0.1:7800, no NIC, no hugepages. Extra arguments go to sluiced.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
[ -d build ] || meson setup build --buildtype=release -Dhot_asserts=false >/dev/null
ninja -C build >/dev/null
exec build/src/daemon/sluiced "$@"
