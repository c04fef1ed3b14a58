#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and runs each for $1 seconds (default 30),
# starting from the committed seeds in tests/fuzz/corpus/<target>/ (read only) plus what earlier
# runs found in build-fuzz/corpus/<target>/. Exits non-zero if a target fails to build, crashes,
# or AddressSanitizer / UndefinedBehaviorSanitizer report an error.
#   tests/fuzz/run.sh        # 30 s per target
#   tests/fuzz/run.sh 300    # longer, e.g. nightly
set -euo pipefail

seconds="${1:-30}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$repo/build-fuzz"
targets=(message_parser_fuzz responder_fuzz uapi_request_fuzz mesh_spec_fuzz decap_stage_fuzz
         encap_stage_fuzz)

cd "$repo"
if [[ ! -d "$build" ]]; then
  CXX=clang++ CC=clang meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized
fi
ninja -C "$build" -j 2 "${targets[@]/#/tests/fuzz/}"

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  seeds=()
  [[ -d "$repo/tests/fuzz/corpus/$t" ]] && seeds=("$repo/tests/fuzz/corpus/$t")
  mkdir -p "$corpus" "$artifacts"
  echo "== $t: ${seconds}s"
  if ! "$build/tests/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$artifacts" "$corpus" "${seeds[@]}"; then
    echo "!! $t failed; reproducer in $artifacts" >&2
    status=1
  fi
done
exit "$status"
