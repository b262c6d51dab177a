#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Sets up a fresh Debian 12 machine, then builds and runs the whole suite: the format
# check, unit and integration tests in a -Werror build, then the same suite again in an
# ASan+UBSan build. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== format check"
scripts/check-format.sh

jobs=$(nproc)
echo "== build (werror)"
[ -d build-test ] || meson setup build-test -Dwerror=true >/dev/null
ninja -C build-test -j "$jobs"
echo "== tests"
meson test -C build-test --print-errorlogs --num-processes 1

echo "== build (address,undefined sanitizers)"
[ -d build-asan ] || meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
	-Db_lundef=false >/dev/null
ninja -C build-asan -j "$jobs"
echo "== tests (address,undefined sanitizers)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 1 --timeout-multiplier 3
