#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# libsluice as a user gets it: install into a scratch root, build examples/produce.c with
# `pkg-config sluice` against the shared and then the static library, and run both
# against a real sluiced. examples/consume.c is built the same way (linking it against
# the shared library checks that libsluice.map exports the consumer API); it runs once
# the router serves subscriptions. Usage: test_install.sh BUILD_DIR SOURCE_DIR SLUICED SANITIZE
set -euo pipefail
build=$1
src=$2
sluiced=$3
if [ "${4:-none}" != none ]; then
	# A sanitizer build's libsluice needs the sanitizer runtime in every program that
	# links it; a user's install never is one. The plain build runs this test.
	echo "SKIP: libsluice built with -Db_sanitize=$4 is not an installable library" >&2
	exit 77
fi
root=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$root"
}
trap cleanup EXIT

meson install -C "$build" --destdir "$root" --no-rebuild >/dev/null
pc=$(dirname "$(find "$root" -name sluice.pc | head -1)")
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$root
# With a sysroot, pkg-config prefixes it to libdir already.
libdir=$(pkg-config --variable=libdir sluice)
cc "$src/examples/produce.c" $(pkg-config --cflags --libs sluice) -o "$root/produce-shared"
cc "$src/examples/produce.c" $(pkg-config --cflags sluice) "$libdir/libsluice.a" \
	-o "$root/produce-static"
cc "$src/examples/consume.c" $(pkg-config --cflags --libs sluice) -o "$root/consume-shared"
cc "$src/examples/consume.c" $(pkg-config --cflags sluice) "$libdir/libsluice.a" \
	-o "$root/consume-static"

port=$(( 20000 + $$ % 20000 ))
"$sluiced" --listen 127.0.0.1:$port --data-dir "$root/data" 2>/dev/null &
pid=$!
for _ in $(seq 100); do
	if LD_LIBRARY_PATH="$libdir" "$root/produce-shared" 127.0.0.1:$port 1 >/dev/null 2>&1; then
		break
	fi
	sleep 0.1
done
LD_LIBRARY_PATH="$libdir" "$root/produce-shared" 127.0.0.1:$port 5000
"$root/produce-static" 127.0.0.1:$port 5000
echo "1 passed, 0 failed"
