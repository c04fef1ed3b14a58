// strait-agent: see README.md in this directory and docs/DESIGN.md section 5.
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "control/agent.hpp"
#include "control/agent_options.hpp"
#include "observability/json_log.hpp"
#include "observability/version.hpp"

int main(int argc, char** argv) {
  using namespace strait::ctl;
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto cmd = parse_agent_args(args, std::getenv("NODE_NAME"));
  if (!cmd) {
    std::cerr << "strait-agent: " << cmd.error().message << "\n";
    return kExitUsage;
  }
  if (cmd->action == AgentAction::help) {
    std::cout << agent_usage();
    return kExitOk;
  }
  if (cmd->action == AgentAction::version) {
    std::cout << strait::observe::version_line("strait-agent") << "\n";
    return kExitOk;
  }
  const AgentOptions& o = cmd->options;
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  if (o.log_json) strait::observe::use_json_logs();

  // Signals arrive through a signalfd in the loop; blocked before any thread starts so that
  // the metrics thread inherits the mask. SIGPIPE: a helper that dies mid-stdin must not kill us.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const int sfd = signalfd(-1, &set, SFD_CLOEXEC);

  ProcessRunner runner;
  Agent agent(o, runner);
  if (o.cleanup) {
    agent.load_spec();  // for the keys of the spec's nodes, if the spec is readable
    return agent.cleanup() ? kExitOk : kExitFailure;
  }
  if (o.once) {
    agent.load_spec();
    return agent.reconcile() ? kExitOk : kExitFailure;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!o.metrics_listen.empty()) {
    auto m = MetricsServer::start(o.metrics_listen);
    if (!m) {
      spdlog::error("{}", m.error().message);
      return kExitFailure;
    }
    metrics = std::move(*m);
    agent.set_metrics(metrics.get());
    spdlog::info("metrics on http://{}/metrics", o.metrics_listen);
  }
  spdlog::info("strait-agent: node {}, spec {}, profile {}, UAPI {}", o.node, o.spec_path,
               profile_name(o.profile), o.uapi_socket.empty() ? o.ifname : o.uapi_socket);
  const int rc = agent.run(sfd);
  ::close(sfd);
  return rc;
}
