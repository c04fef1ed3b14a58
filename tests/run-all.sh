#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is needed on a fresh Debian 12
# machine, builds everything with warnings as errors, and runs every suite:
#   unit (GoogleTest over the pure core), dpdk (pipeline over vdevs), bpf (XDP test-run),
#   system (network namespaces with wireguard-go, OVS, iperf3), then the unit and dpdk suites
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

meson test -C "$build" --print-errorlogs --num-processes 2

if [ "$sanitize" = 1 ]; then
  tests/sanitize/run.sh unit dpdk
fi

if [ "$fuzz_seconds" -gt 0 ] && [ -x tests/fuzz/run.sh ]; then
  tests/fuzz/run.sh "$fuzz_seconds"
fi
echo "run-all: every suite passed"
