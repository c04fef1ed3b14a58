#!/usr/bin/env bash
# The clang-tidy rule of docs/CODE_STYLE.md: clang-tidy (.clang-tidy at the root) reports nothing
# on the project's translation units, read from the build directory's compile_commands.json.
# Every finding is printed once (a header's finding comes from each file that includes it) as
# FILE:LINE:COL: warning: TEXT [check].
#
# Usage: tidy_check.sh [--report-only] BUILD_DIR [REPO_ROOT]
#   --report-only  list the findings but pass (the middle of a clean-up)
#   STRAIT_TIDY_JOBS  parallel clang-tidy processes (default 2, the machine's cores)
#   STRAIT_TIDY_FILES regex of the sources to check (default: see SCOPE below)
# Exit: 0 clean (or --report-only), 1 findings or clang-tidy failed, 77 (skipped) without
# clang-tidy.
set -euo pipefail

report_only=0
if [ "${1:-}" = --report-only ]; then report_only=1; shift; fi
build=$(realpath "${1:?usage: tidy_check.sh [--report-only] BUILD_DIR [REPO_ROOT]}")
root=$(realpath "${2:-$(dirname "$0")/../..}")
jobs=${STRAIT_TIDY_JOBS:-2}

# SCOPE: the product's own sources (dataplane/, control/, ebpf/) and every project header they
# include; tests/ and perf/ are left out to keep the unit suite short (docs/CODE_STYLE.md).
root_re=$(printf '%s' "$root" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
scope=${STRAIT_TIDY_FILES:-"^$root_re/(dataplane|control|ebpf)/"}

if ! command -v run-clang-tidy >/dev/null || ! command -v clang-tidy >/dev/null; then
  echo "tidy_check: clang-tidy not installed (deploy/install-deps.sh installs it): skipped"
  exit 77
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy_check: no $build/compile_commands.json (meson setup writes it)"
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
start=$(date +%s)
# run-clang-tidy reads .clang-tidy beside each source; it exits 1 when a clang-tidy failed (a
# file that does not compile), which is a failure here too.
(cd "$root" && run-clang-tidy -p "$build" -j "$jobs" -quiet "$scope") >"$log" 2>&1 || status=$?
seconds=$(($(date +%s) - start))
units=$(grep -c "^clang-tidy" "$log" || true)
if [ "$units" = 0 ]; then
  echo "tidy_check: no translation unit of $build/compile_commands.json matches \"$scope\""
  exit 1
fi

# Findings, without colour, paths made relative to the root, each once.
mapfile -t findings < <(sed 's/\x1b\[[0-9;]*m//g' "$log" |
  grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): .*\[[a-z][a-zA-Z0-9.,-]*\]$' |
  sed -E "s#^$build/\.\./##; s#^\.\./##; s#^$root/##" | sort -u)

if [ ${#findings[@]} -eq 0 ] && [ "$status" = 0 ]; then
  echo "tidy_check: $units translation units, no finding (${seconds} s, -j $jobs)"
  exit 0
fi
printf '%s\n' "${findings[@]}"
if [ "$status" != 0 ] && [ ${#findings[@]} -eq 0 ]; then
  tail -n 40 "$log"
  echo "tidy_check: run-clang-tidy failed (exit $status) without a finding"
  exit 1
fi
echo "tidy_check: ${#findings[@]} findings in $units translation units (${seconds} s, -j $jobs)."
echo "  Fix the code, or if a check is wrong for this tree, turn it off in .clang-tidy with why."
echo "  One file: clang-tidy -p $build <file.cpp>"
if [ "$report_only" = 1 ]; then
  echo "tidy_check: --report-only, passing (tests/lint/meson.build)"
  exit 0
fi
exit 1
