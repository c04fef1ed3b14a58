#!/usr/bin/env bash
# Prints the project's own C and C++ files (one a line, relative to the repository root), the
# set that format_check.sh checks and format_apply.sh formats: every tracked *.cpp, *.hpp, *.h
# and *.c (the XDP program included). Outside a git checkout, the same patterns under the
# source folders. Sourced by both scripts so that they can never disagree.
cxx_sources() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -- '*.cpp' '*.hpp' '*.h' '*.c'
  else
    find dataplane control ebpf tests perf -type f \
      \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.c' \) | sort
  fi
}
