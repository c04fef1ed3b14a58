// straitd: the WireGuard-compatible data plane (docs/STRAITD.md; README.md in this directory
// for the options and example command lines).
//
// Start-up, in order, each step failing with a sentence that says what to fix:
//   options -> key file -> UAPI socket -> EAL -> mbuf pools -> wire and bridge ports ->
//   tunnel steering -> counters + telemetry -> RCU -> slow-path rings -> Device and first
//   snapshot -> workers -> the slow path on this thread until SIGINT/SIGTERM.
// Shut-down reverses it: workers stop first, so nothing reads what is freed after.
//
// Exit codes: 0 clean stop, 1 start-up failure, 2 usage or configuration error.

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <sodium.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/key_base64.hpp"
#include "dpdk/counters.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/flow_steering.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "dpdk/queue_wakeup.hpp"
#include "dpdk/rcu.hpp"
#include "dpdk/worker.hpp"
#include "observability/json_log.hpp"
#include "packet/address_text.hpp"
#include "straitd/dataplane_metrics.hpp"
#include "straitd/dpdk_log.hpp"
#include "straitd/eal_plan.hpp"
#include "straitd/node_key.hpp"
#include "straitd/options.hpp"
#include "straitd/publication.hpp"
#include "straitd/slow_path.hpp"
#include "straitd/worker_pipeline.hpp"
#include "straitd/xdp_wire.hpp"
#include "uapi/server.hpp"

namespace strait::straitd {
namespace {

static_assert(kMaxWorkers == dp::kMaxSteeringQueues,
              "one RX queue per worker, all named by one rte_flow RSS action");

// Rings between the workers and the slow path. Handshake messages (initiations, responses,
// cookie replies) have their own, served first, so that ARP/ND and punted traffic cannot crowd
// them out; its fill level decides "under load" (Linux: MAX_QUEUED_INCOMING_HANDSHAKES, 4096).
constexpr unsigned kHandshakeRingSize = 4096;
constexpr unsigned kExceptionRingSize = 4096;
constexpr std::uint16_t kRingDescriptors = 1024;
// Slow-path frames for a port without a slow-path TX queue, sent by worker 0.
constexpr unsigned kRelayRingSize = 512;

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*signo*/) { g_stop.store(true, std::memory_order_relaxed); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once with EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a UAPI client that hangs up must not kill us
}

int fail(const std::string& message) {
  spdlog::error("{}", message);
  return kExitStartup;
}

std::string mac_text(const rte_ether_addr& a) {
  dp::MacAddr m{};
  std::copy(a.addr_bytes, a.addr_bytes + m.size(), m.begin());
  return dp::format_mac(m);
}

struct RingDeleter {
  void operator()(rte_ring* r) const { rte_ring_free(r); }
};

int run(const Options& o) {
  if (o.test_rekey_after_seconds != 0) {
    spdlog::warn(
        "*** TEST MODE: --test-rekey-after-seconds {} — the protocol's timers are NOT "
        "WireGuard's; never use this in production ***",
        o.test_rekey_after_seconds);
  }
  if (!o.config_file.empty()) spdlog::info("options from {}", o.config_file);

  // 1. The key file, before any resource is taken.
  std::optional<strait::Key> private_key;
  if (!o.private_key_file.empty()) {
    auto k = load_or_create_node_key(o.private_key_file, o.create_private_key);
    if (!k) return fail(k.error().message);
    private_key = k.value().private_key;
    if (k.value().created) spdlog::info("made a new private key in {}", o.private_key_file);
    if (!o.public_key_file.empty()) {
      if (auto w = write_public_key_file(o.public_key_file, k.value().public_key); !w) {
        return fail(w.error().message);
      }
    }
    spdlog::info("public key {}", wg::key_to_base64(k.value().public_key));
    sodium_memzero(k.value().private_key.data(), k.value().private_key.size());
  }

  // 2. The UAPI socket: fails early if another straitd (or wireguard-go) serves this name.
  const std::string socket_path = uapi::socket_path_for(o.ifname);
  auto server = uapi::UapiServer::listen(socket_path);
  if (!server) {
    return fail("cannot serve the UAPI on " + socket_path + ": " + server.error().message +
                " (choose another --ifname, or stop the process using it)");
  }
  std::unique_ptr<uapi::UapiServer> uapi = std::move(server).value();
  uapi->set_error_sink([](std::string_view m) { spdlog::warn("uapi: {}", m); });

  install_signal_handlers();

  // 3. EAL (with --log-format json, its log lines become JSON records too).
  if (o.log_json) route_dpdk_logs_to_spdlog();
  auto eal = dp::EalSession::init(eal_arguments(o));
  if (!eal) return fail(eal.error().message);
  const std::size_t workers = o.worker_lcores.size();
  const std::array<PortQueues, dp::kPortRoleCount> queues = {port_queues(workers, o.wire),
                                                             port_queues(workers, o.bridge)};

  {
    // Everything below holds DPDK objects and must be gone before the EAL session.
    // 4. Pools on the sockets of our lcores.
    std::vector<int> sockets;
    auto add_socket = [&](unsigned lcore) {
      int s = static_cast<int>(rte_lcore_to_socket_id(lcore));
      if (std::find(sockets.begin(), sockets.end(), s) == sockets.end()) sockets.push_back(s);
    };
    add_socket(o.main_lcore);
    for (unsigned l : o.worker_lcores) add_socket(l);
    dp::MempoolSizing sizing;
    for (const PortQueues& q : queues) {
      sizing.ring_descriptors +=
          dp::ring_descriptors(q.n_rx, kRingDescriptors, q.n_tx, kRingDescriptors);
    }
    sizing.lcores = static_cast<std::uint32_t>(workers + 1);
    // Staged packets have a limit of their own (kMaxStagedPackets, peer_plumbing.hpp), reserved
    // here on top of what the ports and rings need, so that forwarding always has mbufs.
    sizing.staging = kExceptionRingSize + 2 * kRelayRingSize + kMaxStagedPackets;
    sizing.staging += kHandshakeRingSize;  // the slow path's own ring for handshake messages
    auto pools = dp::PktmbufPools::create("strait_" + o.ifname, sockets, sizing);
    if (!pools) return fail(pools.error().message);
    rte_mempool* pool =
        pools.value()->for_socket(static_cast<int>(rte_lcore_to_socket_id(o.worker_lcores[0])));

    // 5. Ports: one RX queue per worker, one TX queue per worker plus the slow path's.
    auto open_port = [&](dp::PortRole role, const std::string& devargs, bool promiscuous) {
      const char* name = role == dp::PortRole::wire ? "wire" : "bridge";
      const PortQueues& q = queues[static_cast<std::size_t>(role)];
      dp::PortSpec spec;
      spec.name = name;
      spec.devargs = devargs;
      spec.n_rx_queues = q.n_rx;
      spec.n_tx_queues = q.n_tx;
      spec.rx_ring_size = kRingDescriptors;
      spec.tx_ring_size = kRingDescriptors;
      // The wire carries the inner packet plus the tunnel overhead (IPv6 + UDP + WireGuard:
      // 40 + 8 + 32); the bridge carries the inner MTU.
      spec.mtu =
          static_cast<std::uint16_t>(role == dp::PortRole::wire ? o.tunnel_mtu + 80 : o.tunnel_mtu);
      spec.promiscuous = promiscuous;
      spec.rx_interrupts = o.idle_wait && !o.busy_poll;
      spec.mempool = pool;
      return dp::Port::open(spec);
    };
    // A net_af_xdp wire port gets our XDP program (README.md, "XDP"): the PMD loads and
    // attaches it, we configure it once the port runs.
    std::string wire_devargs = port_devargs(o.wire, o.busy_poll);
    std::unique_ptr<XdpWire> xdp = XdpWire::prepare(o, wire_devargs);
    auto wire_r = open_port(dp::PortRole::wire, wire_devargs, false);
    if (!wire_r) return fail(explain_port_error(wire_r.error().message, workers));
    std::unique_ptr<dp::Port> wire = std::move(wire_r).value();
    auto bridge_r = open_port(dp::PortRole::bridge, port_devargs(o.bridge, o.busy_poll), true);
    if (!bridge_r) return fail(explain_port_error(bridge_r.error().message, workers));
    std::unique_ptr<dp::Port> bridge = std::move(bridge_r).value();
    spdlog::info("{} mac {} with {} RX / {} TX queues; {} mac {}", wire->describe(),
                 mac_text(wire->mac()), wire->n_rx_queues(), wire->n_tx_queues(),
                 bridge->describe(), mac_text(bridge->mac()));

    // 6. Steering of the tunnel port to the workers' queues (or the software filter).
    std::vector<std::uint16_t> rx_queues;
    for (std::uint16_t q = 0; q < queues[0].n_rx; ++q) rx_queues.push_back(q);
    std::optional<dp::TunnelSteering> steering;
    auto steer = [&](std::uint16_t port) {
      steering.reset();
      steering.emplace(dp::TunnelSteering::install(*wire, port, rx_queues));
      if (xdp) xdp->set_tunnel_port(port);
      spdlog::info("{}", steering->summary());
    };
    steer(o.listen_port);
    if (xdp && !xdp->adopt(o.listen_port)) xdp.reset();

    // 7. Counters (one block per worker, the last one the slow path's) and telemetry.
    dp::CounterSet counters(static_cast<unsigned>(workers + 1));
    if (!dp::publish_counters_telemetry(&counters)) {
      spdlog::warn("cannot register the telemetry command {}", dp::kCountersTelemetryCommand);
    }

    // 8. RCU, publication, the handshake and exception rings.
    auto rcu = dp::RcuDomain::create(static_cast<unsigned>(workers));
    if (!rcu) return fail(rcu.error().message);
    auto publication = std::make_unique<Publication>(rcu.value()->qsbr());
    std::unique_ptr<rte_ring, RingDeleter> exceptions(
        rte_ring_create(("strait_exc_" + o.ifname).c_str(), kExceptionRingSize,
                        static_cast<int>(rte_socket_id()), RING_F_SC_DEQ));
    if (!exceptions) return fail("cannot create the exception ring (hugepage memory exhausted?)");
    std::unique_ptr<rte_ring, RingDeleter> handshakes(
        rte_ring_create(("strait_hs_" + o.ifname).c_str(), kHandshakeRingSize,
                        static_cast<int>(rte_socket_id()), RING_F_SC_DEQ));
    if (!handshakes) return fail("cannot create the handshake ring (hugepage memory exhausted?)");
    std::array<std::unique_ptr<rte_ring, RingDeleter>, dp::kPortRoleCount> relays;
    for (std::size_t r = 0; r < dp::kPortRoleCount; ++r) {
      if (queues[r].slow_path_queue) continue;
      relays[r].reset(rte_ring_create(("strait_rly" + std::to_string(r) + "_" + o.ifname).c_str(),
                                      kRelayRingSize, static_cast<int>(rte_socket_id()),
                                      RING_F_SP_ENQ | RING_F_SC_DEQ));
      if (!relays[r]) return fail("cannot create a relay ring (hugepage memory exhausted?)");
      spdlog::info(
          "{} port needs equal RX and TX queue counts: worker 0 sends the slow path's "
          "frames",
          dp::port_role_name(static_cast<dp::PortRole>(r)));
    }

    // 9. How idle workers wait (docs/STRAITD.md, "Idle workers"): on their queues'
    // descriptors when every queue has one, else all of them back off (said once, with why).
    std::vector<std::unique_ptr<dp::QueueWakeup>> wakeups;
    if (o.busy_poll) {
      spdlog::info("workers busy-poll: they never sleep or wait");
    } else if (!o.idle_wait) {
      spdlog::info("idle workers back off (--idle backoff): sleeps of up to 1 ms");
    } else {
      const std::vector<dp::ProcessSocket> sockets = dp::process_sockets();
      for (std::size_t i = 0; i < workers; ++i) {
        const auto q = static_cast<std::uint16_t>(i);
        const std::array<dp::QueueWakeup::Queue, 2> qs{
            dp::QueueWakeup::Queue{wire->port_id(), q},
            dp::QueueWakeup::Queue{bridge->port_id(), q}};
        auto w = dp::QueueWakeup::create(qs, sockets);
        if (!w) {
          spdlog::warn("idle workers back off (sleeps of up to 1 ms), they cannot wait: {}",
                       w.error().message);
          wakeups.clear();
          break;
        }
        spdlog::info("worker {} waits when idle on {}", i, w.value()->summary());
        wakeups.push_back(std::move(w.value()));
      }
    }

    // 10. The Device and the first snapshot.
    SlowPathConfig sc;
    sc.options = &o;
    sc.wire = wire.get();
    sc.bridge = bridge.get();
    sc.tx_queue = static_cast<std::uint16_t>(workers);
    sc.pool = pool;
    sc.handshakes = handshakes.get();
    sc.exceptions = exceptions.get();
    for (std::size_t r = 0; r < dp::kPortRoleCount; ++r) sc.relay[r] = relays[r].get();
    if (!wakeups.empty()) sc.relay_doorbell = &wakeups[0]->doorbell();
    sc.counters = &counters.block(static_cast<unsigned>(workers));
    sc.all_counters = &counters;
    sc.publication = publication.get();
    sc.uapi = uapi.get();
    sc.on_listen_port = [&](std::uint16_t port) { steer(port); };
    if (xdp) {
      sc.on_publish = [&](const dp::ForwardingState& s) { xdp->sync(s); };
      sc.extra_drops = [&](std::array<std::uint64_t, kDropReasonCount>& d) { xdp->add_drops(d); };
    }
    auto slow = std::make_unique<SlowPath>(std::move(sc));
    if (auto r = slow->start(private_key); !r) return fail(r.error().message);
    // The device holds its own copy now; this one is wiped (the key never lingers in main's frame).
    if (private_key) sodium_memzero(private_key->data(), private_key->size());

    // 11. Workers.
    std::vector<std::unique_ptr<WorkerPipeline>> pipelines;
    std::vector<dp::WorkerContext> contexts;
    for (std::size_t i = 0; i < workers; ++i) {
      auto wp = std::make_unique<WorkerPipeline>();
      wp->stage.aead = &wp->aead;
      wp->stage.counters = &counters.block(static_cast<unsigned>(i));
      wp->state = &publication->pointer();
      wp->handshakes = handshakes.get();
      wp->exceptions = exceptions.get();
      wp->slow_path_doorbell = &slow->doorbell();
      if (i == 0) {
        for (std::size_t r = 0; r < dp::kPortRoleCount; ++r) wp->relay[r] = relays[r].get();
      }
      dp::WorkerContext c;
      c.lcore_id = o.worker_lcores[i];
      c.worker_index = static_cast<unsigned>(i);
      const auto q = static_cast<std::uint16_t>(i);
      c.queues[static_cast<std::size_t>(dp::PortRole::wire)] = {wire->port_id(), q, q};
      c.queues[static_cast<std::size_t>(dp::PortRole::bridge)] = {bridge->port_id(), q, q};
      c.counters = &counters.block(static_cast<unsigned>(i));
      c.poll = worker_poll;
      c.pipeline = wp.get();
      c.rcu = rcu.value()->qsbr();
      c.options.busy_poll = o.busy_poll;
      if (!wakeups.empty()) c.wakeup = wakeups[i].get();
      contexts.push_back(c);
      pipelines.push_back(std::move(wp));
    }
    spdlog::info("AEAD engine: ipsec-mb {}", pipelines[0]->aead.arch_name());
    dp::WorkerGroup group(std::move(contexts));
    if (auto r = group.launch(); !r) return fail(r.error().message);
    spdlog::info(
        "straitd {} running: UAPI {} ({} worker{} on lcore{} {}, slow path on lcore {})", o.ifname,
        socket_path, workers, workers == 1 ? "" : "s", workers == 1 ? "" : "s",
        [&] {
          std::string s;
          for (unsigned l : o.worker_lcores) s += (s.empty() ? "" : ",") + std::to_string(l);
          return s;
        }(),
        o.main_lcore);

    // 12. /metrics and /healthz on the endpoint's own threads (not lcores), then the slow
    // path, until a signal.
    std::shared_ptr<DataplaneMetrics> metrics;
    std::unique_ptr<observe::HttpEndpoint> endpoint;
    if (!o.metrics_listen.empty()) {
      DataplaneSources src;
      src.ports = {{"wire", wire->port_id()}, {"bridge", bridge->port_id()}};
      src.counters = &counters;
      src.lcores = o.worker_lcores;
      src.lcores.push_back(o.main_lcore);
      src.pools = pools.value()->all();
      src.uapi_socket = socket_path;
      metrics = std::make_shared<DataplaneMetrics>(std::move(src));
      auto e = observe::HttpEndpoint::start(
          o.metrics_listen, [m = std::weak_ptr<DataplaneMetrics>(metrics)]() -> observe::Health {
            const auto p = m.lock();
            return p ? p->health() : observe::Health{false, "stopping"};
          });
      if (!e) {
        group.stop();
        return fail(e.error().message);
      }
      endpoint = std::move(e.value());
      endpoint->serve_metrics(metrics);
      spdlog::info("metrics on http://{}/metrics, health on /healthz", o.metrics_listen);
    }
    slow->run(g_stop);
    spdlog::info("stopping");
    endpoint.reset();  // before what it reads
    metrics.reset();

    group.stop();
    slow->drain();
    slow.reset();
    publication.reset();  // every snapshot: the workers are gone
    (void)dp::publish_counters_telemetry(nullptr);
    steering.reset();
    if (xdp) xdp->close();  // unpins; closing the port detaches the program
    bridge.reset();
    wire.reset();
    xdp.reset();
    exceptions.reset();
    handshakes.reset();
    for (auto& r : relays) r.reset();
  }
  eal.value().reset();
  uapi.reset();  // unlinks the socket
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace
}  // namespace strait::straitd

int main(int argc, char** argv) {
  using namespace strait::straitd;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cl = parse_command_line(args);
  if (!cl) {
    std::fprintf(stderr, "straitd: %s\n", cl.error().message.c_str());
    return kExitUsage;
  }
  if (cl.value().action == Action::help) {
    std::fputs(usage_text().c_str(), stdout);
    return kExitOk;
  }
  if (cl.value().action == Action::version) {
    std::printf("%s\n", version_text().c_str());
    return kExitOk;
  }
  const Options& o = cl.value().options;
  spdlog::set_default_logger(spdlog::stderr_color_mt("straitd"));
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (o.log_json) strait::observe::use_json_logs();
  try {
    return run(o);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return kExitStartup;
  }
}
