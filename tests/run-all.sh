#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is needed on a fresh Debian 12
# machine, builds everything with warnings as errors, and runs every suite:
#   unit (GoogleTest over the pure core, the include rule, the format), dpdk (pipeline over
#   vdevs), bpf (XDP test-run), system (network namespaces with wireguard-go, OVS, iperf3), and
#   beside them lint (clang-tidy, on one core), then the unit and dpdk suites
# again built with AddressSanitizer + UndefinedBehaviorSanitizer (tests/sanitize/run.sh, in
# build-asan), and a short fuzz run (ASan + UBSan too).
# Needs root (namespaces, hugepages, BPF).
#   STRAIT_BUILD_DIR   build directory (default: build)
#   STRAIT_SANITIZE    1 (default) runs the sanitizer build, 0 skips it
#   STRAIT_FUZZ_SECONDS per-target fuzz time (default 10, a smoke run from the seeds; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."

build=${STRAIT_BUILD_DIR:-build}
fuzz_seconds=${STRAIT_FUZZ_SECONDS:-10}
sanitize=${STRAIT_SANITIZE:-1}

./deploy/install-deps.sh
./deploy/setup-host.sh

if [ -d "$build" ]; then
  meson setup --reconfigure "$build" -Dwerror=true
else
  meson setup "$build" -Dwerror=true
fi
ninja -C "$build"

# clang-tidy (suite lint, minutes of CPU) on one core beside every other suite, whose system
# tests spend most of their time waiting: its own log base, so the two runs do not share a log.
STRAIT_TIDY_JOBS=1 meson test -C "$build" --print-errorlogs --suite lint --logbase lintlog \
  > "$build/lint.out" 2>&1 &
lint_pid=$!
trap 'kill "$lint_pid" 2>/dev/null || true' EXIT
meson test -C "$build" --print-errorlogs --num-processes 2 --no-suite lint
if ! wait "$lint_pid"; then
  cat "$build/lint.out"
  echo "run-all: the lint suite (clang-tidy) failed"
  exit 1
fi
trap - EXIT
grep -E "strait:lint" "$build/lint.out" || true  # its one line: tidy OK and its time

if [ "$sanitize" = 1 ]; then
  tests/sanitize/run.sh unit dpdk
fi

if [ "$fuzz_seconds" -gt 0 ] && [ -x tests/fuzz/run.sh ]; then
  tests/fuzz/run.sh "$fuzz_seconds"
fi
echo "run-all: every suite passed"
