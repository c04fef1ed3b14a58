#include "control/agent.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sstream>

#include "control/spec_watch.hpp"

#ifdef STRAIT_HAVE_XDP
#include <filesystem>

#include "xdp_loader.hpp"
#endif

namespace strait::ctl {

std::chrono::milliseconds retry_delay(unsigned failures) {
  constexpr std::chrono::milliseconds kBase{500}, kCap{30000};
  if (failures == 0) return std::chrono::milliseconds{0};
  const unsigned shift = std::min(failures - 1, 16u);
  return std::min(kCap, kBase * (1u << shift));
}

Agent::Agent(AgentOptions options, CommandRunner& runner) : options_(std::move(options)) {
  forwarding_ = make_forwarding(
      ForwardingOptions{options_.profile, options_.bridge, options_.strait_port, options_.node,
                        options_.ovn_nb, options_.ovn_switch, options_.ovn_router},
      runner);
}

std::string Agent::uapi_path() const {
  return options_.uapi_socket.empty() ? uapi::socket_path_for(options_.ifname)
                                      : options_.uapi_socket;
}

void Agent::report(Health& h, const char* what, const Result<void>& r) {
  if (r) {
    if (h.failing) spdlog::info("{}: recovered after {} failed attempt(s)", what, h.failures);
    h = Health{};
    return;
  }
  ++counters_.reconcile_errors[what];
  ++h.failures;
  if (!h.failing || h.last_error != r.error().message) {
    spdlog::warn("{}: {} (will retry)", what, r.error().message);
  } else {
    spdlog::debug("{}: still failing: {}", what, r.error().message);
  }
  h.failing = true;
  h.last_error = r.error().message;
}

bool Agent::load_spec() {
  auto text = read_file(options_.spec_path);
  if (!text) {
    report(spec_health_, "spec", text.error());
    return false;
  }
  report(spec_health_, "spec", Result<void>{});
  if (have_text_ && *text == last_text_) return false;
  last_text_ = *text;
  have_text_ = true;

  auto spec = parse_mesh_spec(*text);
  Result<DesiredState> desired =
      spec ? compute_desired_state(*spec, options_.node) : Result<DesiredState>(spec.error());
  if (!desired) {
    ++counters_.spec_rejected;
    // One record per problem (the parser puts one per line), so that a log collector counts
    // and shows them as separate events; the summary first.
    std::vector<std::string> problems;
    std::istringstream lines(desired.error().message);
    for (std::string line; std::getline(lines, line);) {
      if (line.find_first_not_of(" \t") != std::string::npos) problems.push_back(line);
    }
    spdlog::error(
        "{}: spec refused ({} problem{}), {} stays in force", options_.spec_path, problems.size(),
        problems.size() == 1 ? "" : "s",
        spec_ ? "the last good spec (generation " + std::to_string(counters_.spec_generation) + ")"
              : "nothing");
    for (const std::string& p : problems) spdlog::error("{}: {}", options_.spec_path, p);
    publish();
    return false;
  }
  spec_ = std::move(*spec);
  desired_ = std::move(*desired);
  spec_keys_.clear();
  labels_.clear();
  for (const Node& n : spec_->nodes) {
    spec_keys_.insert(n.public_key);
    labels_[n.public_key] = PeerLabels{n.cluster, n.name};
  }
  ++counters_.spec_generation;
  spdlog::info("spec generation {}: node {} of cluster {}, {} peer(s), {} remote CIDR(s)",
               counters_.spec_generation, desired_->node, desired_->cluster, desired_->peers.size(),
               desired_->remote_cidrs.size());
  publish();
  return true;
}

bool Agent::reconcile() {
  ++counters_.reconcile_total;
  if (!desired_) {
    publish();
    return false;
  }
  Result<void> uapi_result;
  {
    auto client = uapi::UapiClient::connect(uapi_path());
    if (!client) {
      uapi_result = Error{client.error().code, uapi_path() + ": " + client.error().message};
    } else if (auto plan = peers_.sync(*client, *desired_, spec_keys_); !plan) {
      uapi_result = plan.error();
    } else {
      if (!plan->empty()) {
        spdlog::info("peers: {} added, {} updated, {} removed", plan->added.size(),
                     plan->updated.size(), plan->removed.size());
      }
      if (auto state = client->get()) device_ = std::move(*state);
    }
  }
  report(uapi_health_, "uapi", uapi_result);

  Result<void> fwd_result;
  if (auto r = forwarding_->reconcile(*desired_); !r) {
    fwd_result = r.error();
  } else if (r->added + r->removed > 0) {
    spdlog::info("{}: {} rule(s) added, {} removed", profile_name(options_.profile), r->added,
                 r->removed);
  }
  report(fwd_health_, options_.profile == Profile::route ? "routes" : "flows", fwd_result);

  const bool ok = uapi_result.ok() && fwd_result.ok();
  if (ok) last_success_ = std::chrono::steady_clock::now();
  publish();
  return ok;
}

bool Agent::cleanup() {
  bool ok = true;
  std::set<Key> keys = spec_keys_;
  if (auto client = uapi::UapiClient::connect(uapi_path()); !client) {
    spdlog::error("cleanup: {}: {}", uapi_path(), client.error().message);
    ok = false;
  } else if (auto n = peers_.remove_owned(*client, keys); !n) {
    spdlog::error("cleanup: peers: {}", n.error().message);
    ok = false;
  } else {
    spdlog::info("cleanup: {} peer(s) removed", *n);
  }
  if (auto n = forwarding_->remove_all(); !n) {
    spdlog::error("cleanup: {}: {}", profile_name(options_.profile), n.error().message);
    ok = false;
  } else {
    spdlog::info("cleanup: {} {} removed", *n,
                 options_.profile == Profile::route ? "route(s)" : "flow(s)");
  }
  return ok;
}

MetricsSnapshot Agent::snapshot() const {
  MetricsSnapshot s;
  s.device = device_;
  s.labels = labels_;
  s.counters = counters_;
  s.last_success = last_success_;
  s.resync_interval = options_.resync_interval;
#ifdef STRAIT_HAVE_XDP
  // Every interface a straitd pinned its XDP maps for (ebpf/README.md); none without a bpffs.
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(ebpf::kDefaultPinRoot, ec)) {
    try {
      const auto program = ebpf::XdpProgram::open_pinned(dir.path().filename().string());
      const ebpf::XdpCounters c = program.read_counters();
      s.xdp.push_back({dir.path().filename().string(),
                       std::vector<std::uint64_t>(c.drops.begin(), c.drops.end()),
                       std::vector<std::uint64_t>(c.verdicts.begin(), c.verdicts.end())});
    } catch (const std::exception& e) {
      spdlog::debug("xdp counters of {}: {}", dir.path().string(), e.what());
    }
  }
#endif
  return s;
}

void Agent::publish() {
  if (metrics_ != nullptr) metrics_->set_snapshot(snapshot());
}

int Agent::run(int signal_fd) {
  std::optional<SpecWatch> watch;
  if (auto w = SpecWatch::open(options_.spec_path)) {
    watch.emplace(std::move(*w));
  } else {
    spdlog::warn("no inotify watch ({}); the spec is re-read every {} ms only", w.error().message,
                 options_.resync_interval.count());
  }
  unsigned failures = 0;
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next) {
      load_spec();  // the periodic re-read: a fallback for missed inotify events
      const bool ok = reconcile();
      failures = ok ? 0 : failures + 1;
      next = std::chrono::steady_clock::now() +
             (ok ? options_.resync_interval : retry_delay(failures));
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next - std::chrono::steady_clock::now());
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {watch ? watch->fd() : -1, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (n < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      return kExitFailure;
    }
    if (n > 0 && fds[0].revents != 0) {
      signalfd_siginfo si{};
      if (::read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
          spdlog::info("SIGHUP: re-reading the spec");
          have_text_ = false;
          if (load_spec()) next = std::chrono::steady_clock::now();
        } else {
          spdlog::info("signal {}: stopping", si.ssi_signo);
          if (options_.cleanup_on_exit) return cleanup() ? kExitOk : kExitFailure;
          return kExitOk;
        }
      }
    }
    if (n > 0 && fds[1].revents != 0 && watch->drain()) {
      // A changed spec is applied at once, not at the next resync.
      if (load_spec()) next = std::chrono::steady_clock::now();
    }
  }
}

}  // namespace strait::ctl
