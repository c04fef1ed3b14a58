#!/usr/bin/env bash
# Formats every C/C++ file of the tree in place with clang-format and the root .clang-format,
# the same set format_check.sh checks. Run from anywhere: tests/lint/format_apply.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lint/cxx_sources.sh
cxx_sources | xargs -r clang-format --style=file -i
echo "format_apply: formatted $(cxx_sources | wc -l) files; review with git diff"
