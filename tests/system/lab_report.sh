# shellcheck shell=bash
# PASS/FAIL reporting and polling for the lab's system tests (lab_resilience_test.sh,
# lab_ovn_test.sh). Sourced; the sourcing script defines diagnose() (what to print on a
# failure: its lab's state).

section() { printf '\n=== %s\n' "$*"; }
pass() { printf 'PASS  %s\n' "$*"; }
fail() {
  printf 'FAIL  %s\n' "$*"
  diagnose
  exit 1
}
# wait_for SECONDS WHAT CMD...: polls CMD until it succeeds; FAIL (and exit) after SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (not within $limit s)"
    sleep 0.5
  done
  pass "$what"
}
check() {  # WHAT CMD...: CMD must succeed now
  local what=$1
  shift
  if "$@" > /dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
