#!/usr/bin/env bash
# The format rule of docs/CODE_STYLE.md: every C/C++ file of the tree is as clang-format
# (.clang-format at the root) would write it. Lists the files that differ and the one command
# that fixes them.
#
# Usage: format_check.sh [--report-only] [REPO_ROOT]
#   --report-only  list the differences but pass (the middle of a reformat)
# Exit: 0 clean (or --report-only), 1 files differ, 77 (skipped) without clang-format.
set -euo pipefail

report_only=0
if [ "${1:-}" = --report-only ]; then report_only=1; shift; fi
cd "${1:-$(dirname "$0")/../..}"
. tests/lint/cxx_sources.sh

if ! command -v clang-format >/dev/null; then
  echo "format_check: clang-format not installed (deploy/install-deps.sh installs it): skipped"
  exit 77
fi

mapfile -t files < <(cxx_sources)
# One clang-format for every file: with --dry-run --Werror it reports each line it would change
# as "FILE:LINE:COL: error: code should be clang-formatted"; keep the FILE of those reports.
status=0
out=$(clang-format --style=file --dry-run --Werror "${files[@]}" 2>&1) || status=$?
mapfile -t differ < <(printf '%s\n' "$out" |
  sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | uniq)
if [ "$status" != 0 ] && [ ${#differ[@]} -eq 0 ]; then
  printf '%s\n' "$out"
  echo "format_check: clang-format failed (exit $status) without naming a file to format"
  exit 1
fi

if [ ${#differ[@]} -eq 0 ]; then
  echo "format_check: ${#files[@]} files, all formatted ($(clang-format --version))"
  exit 0
fi
printf '  %s\n' "${differ[@]}"
echo "format_check: ${#differ[@]} of ${#files[@]} files are not formatted as .clang-format says."
echo "  See what would change: clang-format --style=file <file> | diff -u <file> -"
echo "  Fix them all:          tests/lint/format_apply.sh"
if [ "$report_only" = 1 ]; then
  echo "format_check: --report-only, passing (tests/lint/meson.build)"
  exit 0
fi
exit 1
