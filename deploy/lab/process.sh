# shellcheck shell=bash
# Starting and stopping the lab's daemons (straitd, strait-agent) inside a namespace, with a
# pidfile and a log under $LAB_RUN. Sourced after topology.sh.
#
# Stopping never kills by name: a pid is signalled only if its pidfile says so and its command
# line still names the program (a recycled pid is left alone), or if it lives in one of the
# lab's own network namespaces (`ip netns pids`), which nothing but the lab uses.

# lab_spawn NS PIDFILE LOGFILE CMD...: runs CMD in network namespace NS, in the background,
# in a session of its own (a Ctrl-C of the calling terminal does not reach it).
lab_spawn() {
  local ns=$1 pidfile=$2 log=$3
  shift 3
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
  # `ip netns exec` and `setsid` both exec (no fork: a background job of a script is no
  # process-group leader), so $! is the daemon's own pid.
  ip netns exec "$ns" setsid "$@" >> "$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

lab_netns_exists() { [ -e "/var/run/netns/$1" ]; }

lab_pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# lab_pid_exiting PID: alive, but past its last instruction (its command line is gone): a
# process killed a moment ago that the kernel is still taking apart, holding its files (a DPDK
# process its --file-prefix's lock) until it becomes a zombie.
lab_pid_exiting() {
  lab_pid_alive "$1" && [ ! -s "/proc/$1/cmdline" ] &&
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# lab_stop_pidfile PIDFILE NAME: SIGTERM, up to 5 s of grace, then SIGKILL; and in every case
# waits (up to 10 s) until a process that is exiting has let go of its files, so that a
# restart right after a kill -KILL does not find them taken.
lab_stop_pidfile() {
  local pidfile=$1 name=$2 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if lab_pid_alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      lab_pid_alive "$pid" || break
      sleep 0.1
    done
    lab_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  for ((i = 0; i < 100; i++)); do
    lab_pid_exiting "$pid" || break
    sleep 0.1
  done
  rm -f "$pidfile"
}

# Kills what is left in a lab namespace (after a crash, or processes we did not start through
# lab_spawn, such as ping or iperf3 of an interrupted demo).
lab_kill_netns_pids() {
  local ns=$1 pids i
  lab_netns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
}

# lab_wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.1 s.
lab_wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 10; i++)); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  lab_log "timed out after ${seconds}s waiting for $what"
  return 1
}

# Records a namespace as the lab's (lab.sh down deletes exactly these, even after a crash).
lab_add_netns() {
  local ns=$1
  mkdir -p "$LAB_RUN"
  grep -qx -- "$ns" "$LAB_RUN/namespaces" 2>/dev/null || echo "$ns" >> "$LAB_RUN/namespaces"
  lab_netns_exists "$ns" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  # No IPv6: router solicitations and MLD reports would only be dropped by br0's table 0.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

lab_del_netns() {
  local ns=$1
  lab_kill_netns_pids "$ns"
  lab_netns_exists "$ns" && ip netns del "$ns"
  return 0
}
