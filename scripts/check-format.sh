#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fails, listing the files, when any C file in the tree differs from .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."

bad=()
while IFS= read -r f; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')

if [ ${#bad[@]} -ne 0 ]; then
	echo "check-format: these files need clang-format -i:" >&2
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "check-format: ok"
