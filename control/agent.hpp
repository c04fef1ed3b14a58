#pragma once
// The agent's loop: load the spec, compute this node's desired state, reconcile straitd's
// peers (UAPI) and the node's forwarding rules (OVS flows or routes), publish metrics.
//
//  - An invalid spec is logged with its location and counted; the last good spec stays in
//    force (nothing is removed because a new spec is broken).
//  - straitd or OVS unreachable: the pass fails, the next one comes after an exponential
//    back-off (0.5 s doubling, capped at 30 s); each subsystem logs once when it starts
//    failing (and again if the error changes) and once when it recovers.
//  - Every pass re-reads the spec and re-applies the difference, so wiped flows
//    (`ovs-ofctl del-flows br0`) or a restarted straitd (no peers) are repaired.
//
// Threads: everything here runs on the main thread; the metrics server only receives
// snapshots (metrics.hpp).

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "control/agent_options.hpp"
#include "control/command_runner.hpp"
#include "control/desired_state.hpp"
#include "control/forwarding.hpp"
#include "control/metrics.hpp"
#include "control/peer_sync.hpp"

namespace strait::ctl {

class Agent {
 public:
  Agent(AgentOptions options, CommandRunner& runner);

  // Re-reads the spec file. Returns true when a new valid spec (with this node) was taken.
  bool load_spec();
  // One reconcile pass over peers and forwarding; true when both succeeded. Without a good
  // spec there is nothing to do and the pass fails.
  bool reconcile();
  // Removes the peers (owned, see peer_sync.hpp), flows and routes the agent installs.
  bool cleanup();
  // The loop, until SIGTERM/SIGINT arrive on `signal_fd` (a signalfd; -1: run until error).
  // SIGHUP forces a spec re-read. Returns the exit code.
  int run(int signal_fd);

  [[nodiscard]] MetricsSnapshot snapshot() const;
  void set_metrics(MetricsServer* server) { metrics_ = server; }
  [[nodiscard]] const std::optional<DesiredState>& desired() const { return desired_; }

 private:
  // One subsystem's health, for "log once per state change".
  struct Health {
    bool failing = false;
    std::string last_error;
    unsigned failures = 0;
  };
  void report(Health& h, const char* what, const Result<void>& r);
  void publish();
  [[nodiscard]] std::string uapi_path() const;

  AgentOptions options_;
  std::unique_ptr<Forwarding> forwarding_;
  PeerSync peers_;
  std::optional<MeshSpec> spec_;  // the last good spec
  std::optional<DesiredState> desired_;
  std::set<Key> spec_keys_;
  std::map<Key, PeerLabels> labels_;
  std::string last_text_;  // the spec file's last contents, good or bad
  bool have_text_ = false;
  Health spec_health_, uapi_health_, fwd_health_;
  AgentCounters counters_;
  std::optional<uapi::DeviceState> device_;
  std::optional<std::chrono::steady_clock::time_point> last_success_;
  MetricsServer* metrics_ = nullptr;
};

// The back-off before retry number `failures` (1 = first retry): 0.5 s * 2^(n-1), at most 30 s.
[[nodiscard]] std::chrono::milliseconds retry_delay(unsigned failures);

}  // namespace strait::ctl
